/* check_metrics.c: (being written) */
int main(void);
int main(void)
{
	return 77;
}
