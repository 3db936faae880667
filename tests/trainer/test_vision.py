"""trainer.vision: torchvision without torch._dynamo, and torch._dynamo whole when it is wanted."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    """``code`` in a fresh interpreter (what a job process imports is the point): its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_trainers_modules_load_torchvision_but_not_the_compiler() -> None:
    out = run_python("""
        import sys
        import trainer.augment, trainer.engine, trainer.models, trainer.predict, trainer.evaluate
        print(sorted(m for m in sys.modules if m.startswith("torch._dynamo")))
        print("torchvision.ops.roi_align" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["[]", "True"]


def test_the_compiler_imports_whole_after_it_and_roi_align_asks_the_real_one() -> None:
    out = run_python("""
        import sys
        from trainer.vision import torchvision
        roi = sys.modules["torchvision.ops.roi_align"]
        asked = roi.is_compile_supported("cpu")  # the stand-in's function: loads the real module
        import torch
        import torch._dynamo.utils as real
        print(real.__file__.endswith("utils.py"), asked == real.is_compile_supported("cpu"))
        print(torch._dynamo.utils is real, callable(torch._dynamo.disable))
    """)
    assert out.split("\n")[:2] == ["True True", "True True"]


def test_a_torchvision_that_takes_more_from_the_stand_in_gets_the_real_module() -> None:
    out = run_python("""
        import sys
        import torch
        from trainer import vision
        stand_in = vision._Deferred(vision.DEFERRED)
        sys.modules[vision.DEFERRED] = stand_in
        from torch._dynamo.utils import counters  # what a later torchvision might take
        real = sys.modules[vision.DEFERRED]
        print(real is not stand_in, real.counters is counters, hasattr(stand_in, "__path__"))
    """)
    assert out.split("\n")[0] == "True True False"


def test_exporting_to_onnx_after_it_still_works(tmp_path) -> None:  # noqa: ANN001
    out = run_python(f"""
        import torch
        from trainer.models import build_backbone
        model = build_backbone("mobilenet_v2", "none").eval()
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64),), r"{tmp_path / 'm.onnx'}", dynamo=True)
        import onnx
        print(len(onnx.load(r"{tmp_path / 'm.onnx'}").graph.node) > 50)
    """)
    assert out.split("\n")[-2] == "True"


def test_the_stand_ins_function_works_while_the_stand_in_is_still_in_place() -> None:
    out = run_python("""
        import sys
        import torch
        from trainer import vision
        stand_in = vision._Deferred(vision.DEFERRED)
        stand_in.is_compile_supported = vision.is_compile_supported
        sys.modules[vision.DEFERRED] = stand_in
        print(stand_in.is_compile_supported("cpu"), sys.modules[vision.DEFERRED] is not stand_in)
    """)
    assert out.split("\n")[0] == "True True"
