"""tkitrack command line: one typer app composed of one module per command group."""

def main() -> None:
    print("tkitrack")
