from madcell.utils.threads import quiet_openmp

quiet_openmp()  # before anything imports torch: OpenMP workers wait passively instead of spinning

__version__ = "0.1.0"
