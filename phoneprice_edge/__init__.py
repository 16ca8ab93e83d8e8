"""phoneprice_edge: train a small tabular classifier, export it to edge runtimes and prove parity."""

from phoneprice_edge import numerics as _numerics

__version__ = "0.1.0"

# Before anything imports torch: pin the CPU math libraries' dispatch (PE_NUMERICS=portable, the
# default) so training gives the same bits on any x86-64 CPU; PE_NUMERICS=native opts out.
_numerics.apply()
