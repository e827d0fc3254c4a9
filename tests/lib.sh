# lib.sh: (being written)
