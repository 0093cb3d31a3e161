"""The sasnet-codec command line (click). Commands parse options, build configs, call the
library and print; `main(argv)` returns an exit code so tests call it directly."""
