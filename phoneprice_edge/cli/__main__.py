"""`python -m phoneprice_edge.cli ...`: the `pe` group where no entry points are installed (GPU hosts)."""

from phoneprice_edge.cli import main

if __name__ == "__main__":
    main(prog_name="pe")
