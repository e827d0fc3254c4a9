/* check_ctl.c: inferctl's library: options, exit codes, CSV, the daemon's model list, reload. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "smoke.h"
#include "testutil.h"

/* ---- running inferctl in-process -------------------------------------------------- */

/* Reads a whole file into a malloc'd string. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct tu_buf b = {0};
	char chunk[4096];
	size_t n;

	ck_assert_ptr_nonnull(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tu_buf_add(&b, chunk, n);
	fclose(f);
	if (!b.p)
		tu_buf_add(&b, "", 0);
	return b.p;
}

/*
 * Runs ctl_main with the NULL-terminated args (after "inferctl"), stdout and stderr caught
 * in *out and *err (either may be NULL). Returns the exit status.
 */
static int run_ctl(char **out, char **err, const char *const *args)
{
	char *dir = tu_mkdtemp(), *po = tu_xasprintf("%s/out", dir),
	     *pe = tu_xasprintf("%s/err", dir);
	char *argv[64];
	int argc = 0, so, se, fo, fe, rc;

	argv[argc++] = (char *)"inferctl";
	for (; *args && argc < 63; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = ctl_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	if (out)
		*out = slurp(po);
	if (err)
		*err = slurp(pe);
	free(po);
	free(pe);
	tu_rmtree(dir);
	free(dir);
	return rc;
}

#define RUN(out, err, ...) run_ctl(out, err, (const char *const[]){__VA_ARGS__, NULL})

/* ---- a real inferd serving the bundled model under another name ------------------------ */

static struct tu_daemon d;
static char *repo;  /* the repository: custom/1/{model,golden}.json */
static char *state; /* the daemon's state_dir */

static void copy_file(const char *from, const char *to)
{
	char *text = slurp(from);
	FILE *f = fopen(to, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	free(text);
}

/* A repository dir holding name/1 as the bundled model and its golden set. */
static char *make_repo(const char *name)
{
	char *dir = tu_mkdtemp(), *m = tu_xasprintf("%s/%s", dir, name);
	char *v = tu_xasprintf("%s/1", m), *f;

	ck_assert_int_eq(mkdir(m, 0755), 0);
	ck_assert_int_eq(mkdir(v, 0755), 0);
	f = tu_xasprintf("%s/model.json", v);
	copy_file(TU_BUNDLED_MODEL, f);
	free(f);
	f = tu_xasprintf("%s/golden.json", v);
	copy_file(TU_BUNDLED_GOLDEN, f);
	free(f);
	free(v);
	free(m);
	return dir;
}

static char *daemon_conf(const char *repo_dir, const char *state_dir)
{
	return tu_xasprintf("socket = { path = \"@SOCKET@\"; };\n"
	                    "server = { state_dir = \"%s\"; };\n"
	                    "log_level = \"info\";\n"
	                    "repository = [ \"%s\" ];\n"
	                    "models = ( { name = \"custom\"; version = \"latest\"; } );\n",
	                    state_dir, repo_dir);
}

static void daemon_setup(void)
{
	char *text;

	unsetenv("INFERD_SOCKET");
	repo = make_repo("custom");
	state = tu_mkdtemp();
	text = daemon_conf(repo, state);
	ck_assert_msg(tu_daemon_start(&d, text) == 0, "inferd did not start");
	free(text);
}

static void daemon_teardown(void)
{
	tu_daemon_stop(&d);
	tu_rmtree(repo);
	tu_rmtree(state);
	free(repo);
	free(state);
}

/* A socket path where nothing listens. */
static char *dead_socket(void)
{
	return tu_xasprintf("%s/nothing-here.sock", d.dir);
}

/* ---- options ----------------------------------------------------------------------------- */

START_TEST(test_socket_option_forms)
{
	char *opt_eq = tu_xasprintf("--socket=%s", d.socket);
	char *opt_glued = tu_xasprintf("-s%s", d.socket);
	char *out;

	/* Before the command, after it, glued, with '=', and from the environment. */
	ck_assert_int_eq(RUN(&out, NULL, "--socket", d.socket, "ready"), 0);
	ck_assert_ptr_nonnull(strstr(out, "ready"));
	free(out);
	ck_assert_int_eq(RUN(NULL, NULL, "ready", "--socket", d.socket), 0);
	ck_assert_int_eq(RUN(NULL, NULL, opt_glued, "ready"), 0);
	ck_assert_int_eq(RUN(NULL, NULL, "ready", opt_glued), 0);
	ck_assert_int_eq(RUN(NULL, NULL, opt_eq, "ready"), 0);
	ck_assert_int_eq(RUN(NULL, NULL, "ready", opt_eq), 0);
	ck_assert_int_eq(RUN(NULL, NULL, "ready", "-t", "5", "-s", d.socket), 0);
	free(opt_eq);
	free(opt_glued);
}
END_TEST

START_TEST(test_socket_from_environment)
{
	char *dead = dead_socket(), *err;

	setenv("INFERD_SOCKET", d.socket, 1);
	ck_assert_int_eq(RUN(NULL, NULL, "ready"), 0);
	/* --socket wins over the environment: the error names the option's path. */
	ck_assert_int_eq(RUN(NULL, &err, "--socket", dead, "ready"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(err, "nothing-here.sock") != NULL, "stderr: %s", err);
	free(err);
	setenv("INFERD_SOCKET", dead, 1);
	ck_assert_int_eq(RUN(NULL, &err, "ready"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(err, "nothing-here.sock") != NULL, "stderr: %s", err);
	free(err);
	unsetenv("INFERD_SOCKET");
	free(dead);
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
	static const char *const cases[][7] = {
	    {"frobnicate", NULL},
	    {"--no-such-option", "ready", NULL},
	    {"ready", "--no-such-option", NULL},
	    {"ready", "extra", NULL},
	    {"infer", NULL},
	    {"metadata", NULL},
	    {"smoke", "--requests", "0", NULL},
	    {"smoke", "--on-failure", "sometimes", NULL},
	    {"smoke", "--on-failure", NULL},
	    {"--timeout", "0", "ready", NULL},
	    {"ready", "--timeout", NULL},
	    {"rollback", "--all", NULL},
	    {"fingerprint", "--ignore", "kernel", NULL},
	    {"infer", "m", "--header", "--no-header", "--csv", "x", NULL},
	    {"infer", "m", "--delimiter", ";;", "--csv", "x", NULL},
	    {"infer", "m", "--header", "1", "2", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[10] = {"--socket", d.socket};
		char *err;
		int n = 2, rc;

		for (int k = 0; k < 7 && cases[i][k]; k++)
			args[n++] = cases[i][k];
		args[n] = NULL;
		rc = run_ctl(NULL, &err, args);
		ck_assert_msg(rc == CTL_EXIT_USAGE && strncmp(err, "inferctl: ", 10) == 0,
		              "case %zu (%s %s): exit %d, stderr '%s'", i, cases[i][0],
		              cases[i][1] ? cases[i][1] : "", rc, err);
		free(err);
	}
}
END_TEST

START_TEST(test_help_and_table)
{
	size_t n;
	const struct ctl_command *cmds = ctl_commands(&n);
	char *out;

	ck_assert_int_eq(RUN(&out, NULL, "--help"), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(out, cmds[i].name) != NULL, "--help lacks %s", cmds[i].name);
	/* The one exit-code table, with each code. */
	ck_assert_ptr_nonnull(strstr(out, "  0  success"));
	ck_assert_ptr_nonnull(strstr(out, "  1  a check failed"));
	ck_assert_ptr_nonnull(strstr(out, "  2  usage"));
	ck_assert_ptr_nonnull(strstr(out, "  3  reload"));
	ck_assert_ptr_nonnull(strstr(out, "INFERD_SOCKET"));
	free(out);
	/* --help after a command is the same help, exit 0. */
	ck_assert_int_eq(RUN(&out, NULL, "smoke", "--help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "Exit status"));
	free(out);
}
END_TEST

/* Every command that needs the daemon exits 2 when nothing listens, with a reason. */
START_TEST(test_no_daemon_exits_2)
{
	static const char *const cmds[][3] = {
	    {"health", NULL},       {"ready", NULL},          {"models", NULL},
	    {"metadata", "custom"}, {"infer", "custom", "1"}, {"reload", NULL},
	    {"rollback", NULL},     {"state", NULL},          {"fingerprint", NULL},
	};
	char *dead = dead_socket(), *out;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *args[8] = {"--socket", dead};
		char *err;
		int n = 2, rc;

		for (int k = 0; k < 3 && cmds[i][k]; k++)
			args[n++] = cmds[i][k];
		args[n] = NULL;
		rc = run_ctl(NULL, &err, args);
		ck_assert_msg(rc == CTL_EXIT_USAGE && strstr(err, "nothing-here.sock"),
		              "%s: exit %d, stderr '%s'", cmds[i][0], rc, err);
		free(err);
	}
	/* smoke's readiness wait is its own check: nothing answering fires not_ready. */
	ck_assert_int_eq(RUN(&out, NULL, "-s", dead, "smoke", "--timeout", "0.2"), CTL_EXIT_CHECK);
	ck_assert_msg(strstr(out, "smoke: FAIL (triggers: not_ready)") != NULL, "out '%s'", out);
	free(out);
	free(dead);
}
END_TEST

START_TEST(test_ready_json)
{
	char *dead = dead_socket(), *out;
	json_t *j;

	ck_assert_int_eq(RUN(&out, NULL, "-s", d.socket, "ready", "--json"), 0);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(json_is_true(json_object_get(j, "ready")), "out: %s", out);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 200);
	json_decref(j);
	free(out);
	ck_assert_int_eq(RUN(&out, NULL, "-s", dead, "ready", "--json"), CTL_EXIT_USAGE);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(json_is_false(json_object_get(j, "ready")), "out: %s", out);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(json_object_get(j, "error")), "nothing-here"));
	json_decref(j);
	free(out);
	free(dead);
}
END_TEST

/* ---- the model list comes from the daemon without --config ----------------------------- */

START_TEST(test_models_from_daemon)
{
	char *out, *err;
	json_t *j, *m;

	/* The built-in config lists breast-cancer; this daemon serves "custom" only. */
	ck_assert_int_eq(RUN(&out, &err, "models", "--socket", d.socket), 0);
	ck_assert_msg(strncmp(out, "custom versions=1 objective=binary:logistic features=30\n",
	                      strlen(out)) == 0,
	              "out '%s' err '%s'", out, err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, NULL, "-s", d.socket, "models", "--json"), 0);
	j = json_loads(out, 0, NULL);
	ck_assert_int_eq(json_array_size(j), 1);
	m = json_array_get(j, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "custom");
	ck_assert_int_eq(json_integer_value(json_object_get(m, "features")), 30);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "versions"), 0)), "1");
	json_decref(j);
	free(out);
}
END_TEST

START_TEST(test_smoke_from_daemon)
{
	char *out, *err;
	json_t *j, *models;

	ck_assert_int_eq(RUN(&out, &err, "smoke", "--json", "--requests", "5", "-s", d.socket), 0);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "out '%s' err '%s'", out, err);
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "pass");
	models = json_object_get(j, "models");
	ck_assert_int_eq(json_array_size(models), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(models, 0), "name")),
	                 "custom");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(models, 0), "version")),
	                 "1");
	/*
	 * The daemon names no golden set yet, but its config file (its sha256 the state's) puts
	 * custom/1/golden.json beside the model: that set was checked.
	 */
	ck_assert(json_is_true(json_object_get(json_array_get(models, 0), "golden_ok")));
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

/* ---- infer: CSV rules and the row count ------------------------------------------------ */

/* The bundled golden inputs as CSV rows (NaN for missing), with an optional first line. */
static char *golden_csv(const char *first_line, char delimiter)
{
	json_t *g = json_load_file(TU_BUNDLED_GOLDEN, 0, NULL), *row, *v;
	struct tu_buf b = {0};
	size_t i, k;

	ck_assert_ptr_nonnull(g);
	if (first_line)
		tu_buf_printf(&b, "%s\n", first_line);
	json_array_foreach(json_object_get(g, "inputs"), i, row)
	{
		json_array_foreach(row, k, v)
		{
			if (k)
				tu_buf_add(&b, &delimiter, 1);
			if (json_is_null(v))
				tu_buf_printf(&b, "NaN");
			else
				tu_buf_printf(&b, "%.9g", json_number_value(v));
		}
		tu_buf_add(&b, "\n", 1);
	}
	json_decref(g);
	return b.p;
}

/* Compares inferctl's predict lines with the golden set's (XGBoost's) values. */
static void assert_golden_predictions(const char *out)
{
	json_t *g = json_load_file(TU_BUNDLED_GOLDEN, 0, NULL), *v;
	double tol = json_number_value(json_object_get(g, "tolerance"));
	const char *p = out;
	size_t i;

	if (!(tol > 0))
		tol = 1e-6;
	json_array_foreach(json_object_get(g, "predict"), i, v)
	{
		char *end;
		double got = strtod(p, &end);

		ck_assert_msg(end != p, "line %zu missing in '%s'", i + 1, out);
		ck_assert_msg(fabs(got - json_number_value(v)) <= tol, "row %zu: %g vs %g", i, got,
		              json_number_value(v));
		p = end;
		while (*p == '\n')
			p++;
	}
	ck_assert_msg(*p == '\0', "extra output: '%s'", p);
	json_decref(g);
}

START_TEST(test_infer_csv_header_and_delimiter)
{
	char *dir = tu_mkdtemp(), *text, *file, *out, *err;
	struct {
		const char *first;
		char delim;
		const char *opts[3];
	} ok[] = {
	    {NULL, ',', {NULL}},
	    {"mean radius,mean texture", ',', {NULL}},
	    {"f1;f2", ';', {"--delimiter", ";", NULL}},
	    {NULL, '\t', {"--delimiter", "tab", NULL}},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *args[16] = {"-s", d.socket,  "infer", "custom",
		                        "-o", "predict", "--csv"};
		int n = 7;

		text = golden_csv(ok[i].first, ok[i].delim);
		file = tu_write_file(dir, "rows.csv", text);
		args[n++] = file;
		for (int k = 0; ok[i].opts[k]; k++)
			args[n++] = ok[i].opts[k];
		args[n] = NULL;
		ck_assert_msg(run_ctl(&out, &err, args) == 0, "case %zu: %s", i, err);
		assert_golden_predictions(out);
		free(out);
		free(err);
		free(text);
		free(file);
	}
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A first row with a value that is not a number is an error naming row and field. */
START_TEST(test_infer_csv_bad_first_row)
{
	static const struct {
		const char *first, *want;
	} bad[] = {
	    {"1,NA,3", "row 1, field 2 is not a number: 'NA'"},
	    {"N/A,2,3", "row 1, field 1 is not a number: 'N/A'"},
	    {"1e39,2,3", "row 1, field 1 is not a number: '1e39'"},
	    {"1;2;3", "row 1, field 1 is not a number: '1;2;3' (is the delimiter ';'?"},
	};
	char *dir = tu_mkdtemp(), *out, *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = tu_xasprintf("%s\n", bad[i].first);
		char *file = tu_write_file(dir, "bad.csv", text);

		ck_assert_int_eq(RUN(&out, &err, "-s", d.socket, "infer", "custom", "--csv", file),
		                 CTL_EXIT_USAGE);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: stderr '%s'", i, err);
		ck_assert_msg(strstr(err, "bad.csv:1: ") != NULL, "case %zu: stderr '%s'", i, err);
		ck_assert_str_eq(out, "");
		free(out);
		free(err);
		free(text);
		free(file);
	}
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* An input that is not a regular file is refused at once, naming it (never read from). */
START_TEST(test_infer_input_not_a_file)
{
	char *dir = tu_mkdtemp(), *fifo = tu_xasprintf("%s/fifo", dir), *err;

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(RUN(NULL, &err, "-s", d.socket, "infer", "custom", "--csv", fifo),
	                 CTL_EXIT_USAGE);
	ck_assert_msg(strstr(err, fifo) && strstr(err, "FIFO"), "stderr '%s'", err);
	free(err);
	ck_assert_int_eq(RUN(NULL, &err, "-s", d.socket, "infer", "custom", "--json", dir),
	                 CTL_EXIT_USAGE);
	ck_assert_msg(strstr(err, "directory") != NULL, "stderr '%s'", err);
	free(err);
	free(fifo);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_csv_parse_rules)
{
	struct ctl_rows t = {0};
	char a[] = "x,y\n1,2\n\n3,\n";
	char b[] = "x,y\n1,2\n";
	char c[] = "1,2\n3,4\n";
	char e[] = "1,2\n3\n";
	char f[] = "name;other\n";
	char g[] = "1,2\n3,4\n";

	/* Auto: a text first row is a header; an empty field is missing. */
	ck_assert_int_eq(ctl_csv_parse("a", a, ',', CTL_CSV_HEADER_AUTO, &t), 0);
	ck_assert(t.had_header);
	ck_assert_uint_eq(t.nrows, 2);
	ck_assert_uint_eq(t.ncols, 2);
	ck_assert(t.v[0] == 1.0f && t.v[1] == 2.0f && t.v[2] == 3.0f && isnan(t.v[3]));
	free(t.v);
	memset(&t, 0, sizeof(t));
	/* --no-header: the same text row is an error. */
	ck_assert_int_eq(ctl_csv_parse("b", b, ',', CTL_CSV_HEADER_NO, &t), -EINVAL);
	free(t.v);
	memset(&t, 0, sizeof(t));
	/* --header: a numeric first row is skipped. */
	ck_assert_int_eq(ctl_csv_parse("c", c, ',', CTL_CSV_HEADER_YES, &t), 0);
	ck_assert_uint_eq(t.nrows, 1);
	ck_assert(t.v[0] == 3.0f && t.v[1] == 4.0f);
	free(t.v);
	memset(&t, 0, sizeof(t));
	/* Ragged rows, and a header with nothing after it. */
	ck_assert_int_eq(ctl_csv_parse("e", e, ',', CTL_CSV_HEADER_AUTO, &t), -EINVAL);
	free(t.v);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(ctl_csv_parse("f", f, ';', CTL_CSV_HEADER_AUTO, &t), -EINVAL);
	free(t.v);
	memset(&t, 0, sizeof(t));
	/* Another delimiter splits nothing: one field per row, not a number. */
	ck_assert_int_eq(ctl_csv_parse("g", g, ';', CTL_CSV_HEADER_AUTO, &t), -EINVAL);
	free(t.v);
}
END_TEST

START_TEST(test_parse_model_info)
{
	static const char text[] =
	    "# HELP inferd_model_info The models served.\n"
	    "# TYPE inferd_model_info gauge\n"
	    "inferd_model_info{model=\"a\",version=\"3\",sha256=\"ab\",objective=\"x\"} 1\n"
	    "inferd_requests_total{endpoint=\"infer\"} 7\n"
	    "inferd_model_info{sha256=\"cd\",model=\"b\\\"q\",version=\"12\"} 1\n";
	char **names, **versions;
	size_t n;

	ck_assert_int_eq(ctl_parse_model_info(text, strlen(text), &names, &versions, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "a");
	ck_assert_str_eq(versions[0], "3");
	ck_assert_str_eq(names[1], "b\"q");
	ck_assert_str_eq(versions[1], "12");
	ctl_strv_free(names, n);
	ctl_strv_free(versions, n);
}
END_TEST

/* ---- a stub daemon: answers inferd could give, to see what inferctl does with them ------ */

struct stub {
	char *dir, *socket;
	int fd;
	pthread_t thread;
	atomic_bool stop;
	const char *state;   /* GET /v2/admin/state body */
	const char *reload;  /* POST /v2/admin/reload body */
	size_t predict_drop; /* rows fewer than asked in an infer answer */
	atomic_int infers;   /* infer requests seen */
};

/* Builds the answer for one request; a malloc'd body and *status. */
static char *stub_answer(struct stub *s, const char *method, const char *path, const char *body,
                         int *status)
{
	*status = 200;
	if (strcmp(path, "/v2/health/ready") == 0 || strcmp(path, "/v2/health/live") == 0)
		return strdup("{\"ready\": true}");
	if (strcmp(path, "/v2") == 0)
		return strdup("{\"name\": \"inferd\"}");
	if (strcmp(path, "/v2/admin/state") == 0 && !s->state) {
		*status = 403;
		return strdup("{\"error\": \"admin endpoint: not an admin\"}");
	}
	if (strcmp(path, "/v2/admin/state") == 0)
		return strdup(s->state);
	if (strcmp(path, "/metrics") == 0)
		return strdup("# TYPE inferd_model_info gauge\n"
		              "inferd_model_info{model=\"m\",version=\"4\",sha256=\"00ff\"} 1\n");
	if (strcmp(path, "/v2/admin/reload") == 0 && strcmp(method, "POST") == 0)
		return strdup(s->reload);
	if (strcmp(path, "/v2/repository/index") == 0)
		return strdup("[]");
	if (strncmp(path, "/v2/models/m", 12) == 0 && strstr(path, "/infer")) {
		json_t *req = json_loads(body, 0, NULL);
		json_t *shape =
		    json_object_get(json_array_get(json_object_get(req, "inputs"), 0), "shape");
		size_t rows = (size_t)json_integer_value(json_array_get(shape, 0));
		struct tu_buf b = {0};

		json_decref(req);
		atomic_fetch_add(&s->infers, 1);
		rows = rows > s->predict_drop ? rows - s->predict_drop : 0;
		tu_buf_printf(&b,
		              "{\"outputs\": [{\"name\": \"predict\", \"datatype\": \"FP32\", "
		              "\"shape\": [%zu], \"data\": [",
		              rows);
		for (size_t i = 0; i < rows; i++)
			tu_buf_printf(&b, "%s0.25", i ? ", " : "");
		tu_buf_printf(&b, "]}]}");
		return b.p;
	}
	if (strncmp(path, "/v2/models/m", 12) == 0)
		return strdup(
		    "{\"name\": \"m\", \"versions\": [\"4\"], \"parameters\": {\"objective\": "
		    "\"binary:logistic\", \"num_feature\": 30, \"sha256\": \"00ff\"}}");
	*status = 404;
	return strdup("{\"error\": \"no such route\"}");
}

/* Serves one connection: one request, then closes (curl reconnects as needed). */
static void stub_serve(struct stub *s, int c)
{
	struct tu_buf in = {0};
	char buf[65536], method[16] = "", path[512] = "", *hdr_end = NULL, *ans, *resp;
	size_t clen = 0;
	int status;

	for (;;) {
		ssize_t n;
		struct pollfd p = {.fd = c, .events = POLLIN};

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(c, buf, sizeof(buf));
		if (n <= 0)
			break;
		tu_buf_add(&in, buf, (size_t)n);
		hdr_end = strstr(in.p, "\r\n\r\n");
		if (hdr_end) {
			const char *cl = strcasestr(in.p, "Content-Length:");

			clen = cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0;
			if (in.len >= (size_t)(hdr_end + 4 - in.p) + clen)
				break;
		}
	}
	if (!hdr_end || sscanf(in.p, "%15s %511s", method, path) != 2) {
		free(in.p);
		return;
	}
	ans = stub_answer(s, method, path, hdr_end + 4, &status);
	resp = tu_xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
	                    "%zu\r\nConnection: close\r\n\r\n%s",
	                    status, strlen(ans), ans);
	ck_assert_int_eq(write(c, resp, strlen(resp)), (ssize_t)strlen(resp));
	free(resp);
	free(ans);
	free(in.p);
}

static void *stub_main(void *arg)
{
	struct stub *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		stub_serve(s, c);
		close(c);
	}
	return NULL;
}

static void stub_start(struct stub *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	s->dir = tu_mkdtemp();
	s->socket = tu_xasprintf("%s/stub.sock", s->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->socket);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(s->fd, 16), 0);
	atomic_store(&s->stop, false);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, stub_main, s), 0);
}

static void stub_stop(struct stub *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	tu_rmtree(s->dir);
	free(s->dir);
	free(s->socket);
}

/*
 * The daemon names each served version's golden set ("golden" in the state's serving
 * rows): smoke without --config checks it. The stub's predictions (0.25 everywhere) are not
 * the bundled golden set's, so the check must fail on output_mismatch.
 */
START_TEST(test_smoke_checks_the_daemons_golden_set)
{
	struct stub s = {0};
	char *st = tu_xasprintf("{\"serving\": [{\"name\": \"m\", \"version\": \"4\", "
	                        "\"sha256\": \"00ff\", \"golden\": \"%s\"}]}",
	                        TU_BUNDLED_GOLDEN);
	char *out, *err;

	s.state = st;
	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "-s", s.socket, "smoke", "--requests", "1"), 1);
	ck_assert_msg(strstr(out, "FAIL golden") && strstr(out, "m v4 row 0: got 0.25 expected"),
	              "out '%s' err '%s'", out, err);
	ck_assert_ptr_nonnull(strstr(out, "smoke: FAIL (triggers: output_mismatch)"));
	free(out);
	free(err);
	stub_stop(&s);
	free(st);
}
END_TEST

/* Without a golden set named, no golden check runs, and the report says so. */
START_TEST(test_smoke_without_golden_named)
{
	struct stub s = {0};
	char *out, *err;

	s.state = "{\"serving\": [{\"name\": \"m\", \"version\": \"4\", \"sha256\": \"00ff\"}]}";
	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "-s", s.socket, "smoke", "--requests", "3"), 0);
	ck_assert_msg(strstr(out, "ok   golden         m v4: skipped: no golden set known") != NULL,
	              "out '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "ok   metadata       m v4"));
	ck_assert_int_eq(atomic_load(&s.infers), 3);
	free(out);
	free(err);
	stub_stop(&s);
}
END_TEST

/* Not an admin: the model list comes from /metrics' inferd_model_info. */
START_TEST(test_models_from_metrics_when_not_admin)
{
	struct stub s = {0};
	char *out, *err;

	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "-s", s.socket, "models"), 0);
	ck_assert_msg(strcmp(out, "m versions=4 objective=binary:logistic features=30\n") == 0,
	              "out '%s' err '%s'", out, err);
	free(out);
	free(err);
	stub_stop(&s);
}
END_TEST

/* Values may be negative, interleaved with options, or after "--". */
START_TEST(test_infer_values_and_options)
{
	struct stub s = {0};
	char *out, *err;

	s.state = "{}";
	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "infer", "m", "-1.5", "-o", "predict", "2", "-s", s.socket,
	                     "--", "-3", "-.5"),
	                 0);
	/* One row of four values: the stub answers one prediction of 0.25. */
	ck_assert_msg(strcmp(out, "0.25\n") == 0, "out '%s' err '%s'", out, err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(NULL, &err, "-s", s.socket, "infer", "m", "1", "--", "-x"),
	                 CTL_EXIT_USAGE);
	ck_assert_msg(strstr(err, "not a number: -x") != NULL, "err '%s'", err);
	free(err);
	stub_stop(&s);
}
END_TEST

START_TEST(test_infer_row_count_checked)
{
	struct stub s = {0};
	char *out, *err;

	s.state = "{}";
	s.predict_drop = 1;
	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "-s", s.socket, "infer", "m", "-o", "predict", "1", "2"),
	                 1);
	ck_assert_msg(strstr(err, "has 0 rows for 1 input rows") != NULL, "err '%s'", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	stub_stop(&s);
}
END_TEST

START_TEST(test_reload_refused_stub)
{
	struct stub s = {0};
	char *out, *err;

	s.state = "{}";
	s.reload =
	    "{\"models\": [{\"name\": \"m\", \"version\": \"3\", \"sha256\": \"00ff00ff\"}], "
	    "\"refused\": [{\"name\": \"m\", \"version\": \"4\", \"state\": \"UNAVAILABLE\", "
	    "\"reason\": \"golden set g.json does not match\", \"refused\": true}], "
	    "\"rolled_back\": false}";
	stub_start(&s);
	ck_assert_int_eq(RUN(&out, &err, "reload", "-s", s.socket), CTL_EXIT_REFUSED);
	ck_assert_str_eq(out, "m v3 sha256:00ff00ff\n");
	ck_assert_msg(strstr(err, "refused: m v4 (not served): golden set g.json does not match"),
	              "err '%s'", err);
	free(out);
	free(err);
	s.reload = "{\"models\": [{\"name\": \"m\", \"version\": \"3\", \"sha256\": \"00\"}], "
	           "\"refused\": [], \"rolled_back\": false}";
	ck_assert_int_eq(RUN(NULL, NULL, "reload", "-s", s.socket), 0);
	stub_stop(&s);
}
END_TEST

/* A real reload that refuses a version: exit 3, the version and the reason printed. */
START_TEST(test_reload_refused_real)
{
	struct tu_daemon own;
	char *r = make_repo("custom"), *st = tu_mkdtemp(), *text = daemon_conf(r, st);
	char *v2 = tu_xasprintf("%s/custom/2", r), *out, *err, *f;

	ck_assert_msg(tu_daemon_start(&own, text) == 0, "inferd did not start");
	ck_assert_int_eq(RUN(NULL, NULL, "-s", own.socket, "reload"), 0);
	/* Version 2: not a model at all. */
	ck_assert_int_eq(mkdir(v2, 0755), 0);
	f = tu_write_file(v2, "model.json", "{\"learner\": 1}");
	ck_assert_int_eq(RUN(&out, &err, "-s", own.socket, "reload"), CTL_EXIT_REFUSED);
	ck_assert_msg(strstr(out, "custom v1 sha256:") == out, "out '%s'", out);
	ck_assert_msg(strstr(err, "refused: custom v2 (not served): ") != NULL, "err '%s'", err);
	free(out);
	free(err);
	free(f);
	ck_assert_int_eq(tu_daemon_stop(&own), 0);
	tu_rmtree(r);
	tu_rmtree(st);
	free(r);
	free(st);
	free(v2);
	free(text);
}
END_TEST

/* ---- client.c and smoke.c directly ------------------------------------------------------ */

START_TEST(test_client_fp32_request)
{
	/* 0.1f is 0.100000001490116...: nine significant digits read back as the same float. */
	const float data[] = {1.5f, NAN, INFINITY, -INFINITY, 0.1f, -2.0f};
	size_t len;
	char *body = client_fp32_request(data, 2, 3, "predict", &len);

	ck_assert_str_eq(body, "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                       "\"shape\":[2,3],\"data\":[1.5,null,Infinity,-Infinity,"
	                       "0.100000001,-2]}],\"outputs\":[{\"name\":\"predict\"}]}");
	ck_assert_uint_eq(len, strlen(body));
	free(body);
	body = client_fp32_request(data, 1, 1, NULL, &len);
	ck_assert_str_eq(body, "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                       "\"shape\":[1,1],\"data\":[1.5]}]}");
	free(body);
}
END_TEST

START_TEST(test_client_describe_error)
{
	struct client_response a = {404, "{\"error\": \"no such model: x\"}", 0};
	struct client_response b = {502, "<html>\n bad gateway \n", 0};
	struct client_response c = {500, "", 0};
	char buf[200];

	a.len = strlen(a.body);
	b.len = strlen(b.body);
	ck_assert_str_eq(client_describe_error(&a, buf, sizeof(buf)), "HTTP 404: no such model: x");
	ck_assert_str_eq(client_describe_error(&b, buf, sizeof(buf)),
	                 "HTTP 502: <html>  bad gateway");
	ck_assert_str_eq(client_describe_error(&c, buf, sizeof(buf)), "HTTP 500");
}
END_TEST

/* One client keeps one connection to inferd across requests (keep-alive). */
START_TEST(test_client_keep_alive)
{
	struct client *cl;
	struct client_response r;
	char err[256];

	ck_assert_int_eq(client_global_init(), 0);
	ck_assert_int_eq(client_open(d.socket, 5, &cl, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(
		    client_request(cl, "GET", "/v2/health/live", NULL, 0, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(r.status, 200);
	}
	ck_assert_int_eq(client_connections(cl), 1);
	/* A refused connection is -ENOENT with the socket in the reason. */
	client_close(cl);
	ck_assert_int_eq(client_open("/nonexistent/inferd.sock", 5, &cl, err, sizeof(err)), 0);
	ck_assert_int_eq(client_request(cl, "GET", "/v2", NULL, 0, &r, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/inferd.sock"));
	client_close(cl);
	client_global_cleanup();
}
END_TEST

/* smoke_run on the real daemon, with the configured golden set: every check named. */
START_TEST(test_smoke_run_direct)
{
	struct conf *c;
	struct client *cl;
	struct smoke_opts o;
	struct smoke_result r;
	char err[256];
	json_t *j;

	ck_assert_int_eq(conf_default(&c), 0);
	free(c->models[0].name);
	c->models[0].name = strdup("custom");
	ck_assert_int_eq(client_global_init(), 0);
	ck_assert_int_eq(client_open(d.socket, 5, &cl, err, sizeof(err)), 0);
	smoke_opts_init(&o, c);
	o.requests = 10;
	o.p99_ms = 1e6;
	/* The built-in config has no repository: give the golden set explicitly. */
	free(c->models[0].golden);
	c->models[0].golden = strdup(TU_BUNDLED_GOLDEN);
	ck_assert_int_eq(smoke_run(cl, c, &o, &r, err, sizeof(err)), 0);
	ck_assert_msg(r.triggers == 0, "triggers %u", r.triggers);
	ck_assert_uint_eq(r.n_models, 1);
	ck_assert(r.models[0].golden_ok);
	ck_assert_int_eq(r.requests, 10);
	ck_assert_int_eq(r.connections, 0); /* the earlier checks' connection was kept */
	j = smoke_result_json(&r, &o);
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "pass");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "checks")), r.n_checks);
	json_decref(j);
	smoke_result_free(&r);
	/* An impossible p99 limit fires p99_latency, named as such. */
	o.p99_ms = 1e-9;
	ck_assert_int_eq(smoke_run(cl, c, &o, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.triggers, SMOKE_P99_LATENCY);
	ck_assert_str_eq(smoke_trigger_name(r.triggers), "p99_latency");
	smoke_result_free(&r);
	client_close(cl);
	client_global_cleanup();
	conf_free(c);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *t = tcase_create("daemon");
	TCase *u = tcase_create("unit");
	TCase *st = tcase_create("stub");

	tcase_add_unchecked_fixture(t, daemon_setup, daemon_teardown);
	tcase_set_timeout(t, tu_wrapped() ? 300 : 60);
	tcase_add_test(t, test_socket_option_forms);
	tcase_add_test(t, test_socket_from_environment);
	tcase_add_test(t, test_usage_errors_exit_2);
	tcase_add_test(t, test_help_and_table);
	tcase_add_test(t, test_no_daemon_exits_2);
	tcase_add_test(t, test_ready_json);
	tcase_add_test(t, test_models_from_daemon);
	tcase_add_test(t, test_smoke_from_daemon);
	tcase_add_test(t, test_infer_csv_header_and_delimiter);
	tcase_add_test(t, test_infer_csv_bad_first_row);
	tcase_add_test(t, test_infer_input_not_a_file);
	tcase_add_test(t, test_reload_refused_real);
	tcase_add_test(t, test_client_keep_alive);
	tcase_add_test(t, test_smoke_run_direct);
	suite_add_tcase(s, t);
	tcase_add_test(u, test_csv_parse_rules);
	tcase_add_test(u, test_parse_model_info);
	tcase_add_test(u, test_client_fp32_request);
	tcase_add_test(u, test_client_describe_error);
	suite_add_tcase(s, u);
	tcase_set_timeout(st, tu_wrapped() ? 300 : 60);
	tcase_add_test(st, test_smoke_checks_the_daemons_golden_set);
	tcase_add_test(st, test_smoke_without_golden_named);
	tcase_add_test(st, test_infer_row_count_checked);
	tcase_add_test(st, test_infer_values_and_options);
	tcase_add_test(st, test_models_from_metrics_when_not_admin);
	tcase_add_test(st, test_reload_refused_stub);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
