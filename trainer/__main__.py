from trainer.cli import entry

if __name__ == "__main__":  # spawn-safe: a child process that re-imports this module runs nothing
    entry()
