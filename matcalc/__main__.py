"""`python -m matcalc`: the command line."""
from matcalc.cli.main import main

if __name__ == "__main__":
    main()
