/* ctl_main.c: inferctl's entry point; everything else is in libinferctl (ctl.c and friends). */
#include "ctl.h"

int main(int argc, char **argv)
{
	return ctl_main(argc, argv);
}
