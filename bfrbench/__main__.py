from bfrbench.cli import entry

entry()
