/* ctl.c: (being written) */
