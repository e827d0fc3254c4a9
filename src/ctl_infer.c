/* ctl_infer.c: inferctl infer: one row from the command line, a CSV file or a JSON request. */
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "ctl.h"
#include "jsonx.h"

#define ANSWER_JSON_DEPTH 64

static int rows_push(struct ctl_rows *t, float x)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		float *p = realloc(t->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n++] = x;
	return 0;
}

int ctl_parse_value(const char *s, float *out)
{
	char *end;
	double d;

	if (*s == '\0' || strcasecmp(s, "nan") == 0 || strcmp(s, "null") == 0) {
		*out = NAN;
		return 0;
	}
	d = strtod(s, &end);
	if (end == s || *end != '\0' || isnan(d) || (isfinite(d) && fabs(d) > FLT_MAX))
		return -EINVAL;
	*out = (float)d;
	return 0;
}

/* Trims blanks and one pair of double quotes, in place. */
static char *trim_field(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/*
 * Whether a field could be data: empty, NaN or null (missing), or text that starts like a
 * number (so "1e39", "1;2" and "-inf" count too). A header has none of these.
 */
static bool data_like(const char *s)
{
	char *end;

	if (*s == '\0' || strcasecmp(s, "nan") == 0 || strcmp(s, "null") == 0)
		return true;
	(void)strtod(s, &end);
	return end != s;
}

/* A first row is a header when every field is text that reads as no number. */
static bool is_header_row(const char *line, char delimiter)
{
	char *copy = strdup(line), *save = copy, *field;
	bool header = copy != NULL;

	while (header && (field = strsep(&save, (char[]){delimiter, '\0'})) != NULL)
		if (data_like(trim_field(field)))
			header = false;
	free(copy);
	return header;
}

/* "(another delimiter? ...)" when a refused field holds a common separator. */
static const char *delimiter_hint(const char *field, char delimiter, char *buf, size_t len)
{
	static const char seps[] = ",;\t|";

	buf[0] = '\0';
	for (const char *s = seps; *s; s++)
		if (*s != delimiter && strchr(field, *s)) {
			snprintf(buf, len, " (is the delimiter '%s'? use --delimiter %s)",
			         *s == '\t' ? "\\t" : (char[]){*s, '\0'},
			         *s == '\t' ? "tab" : (char[]){'\'', *s, '\'', '\0'});
			break;
		}
	return buf;
}

/* Parses one data line into t; lineno and row name it in errors. 0 or -errno (printed). */
static int parse_row(const char *name, char *line, size_t lineno, size_t row, char delimiter,
                     struct ctl_rows *t)
{
	char *field, *save = line, hint[80];
	size_t width = 0;

	/* strsep keeps empty fields, which mean "missing". */
	while ((field = strsep(&save, (char[]){delimiter, '\0'})) != NULL) {
		float x;

		field = trim_field(field);
		if (ctl_parse_value(field, &x) < 0) {
			ctl_errorf("%s:%zu: row %zu, field %zu is not a number: '%s'%s", name,
			           lineno, row, width + 1, field,
			           delimiter_hint(field, delimiter, hint, sizeof(hint)));
			return -EINVAL;
		}
		if (rows_push(t, x) < 0) {
			ctl_errorf("out of memory");
			return -ENOMEM;
		}
		width++;
	}
	if (t->ncols == 0) {
		t->ncols = width;
	} else if (width != t->ncols) {
		ctl_errorf("%s:%zu: row %zu has %zu fields, expected %zu like the first row", name,
		           lineno, row, width, t->ncols);
		return -EINVAL;
	}
	t->nrows++;
	return 0;
}

int ctl_csv_parse(const char *name, char *text, char delimiter, enum ctl_csv_header header,
                  struct ctl_rows *t)
{
	char *line, *next;
	size_t lineno = 0;
	bool first = true;
	int rc;

	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if (first) {
			first = false;
			if (header == CTL_CSV_HEADER_YES ||
			    (header == CTL_CSV_HEADER_AUTO && is_header_row(line, delimiter))) {
				t->had_header = true;
				continue;
			}
		}
		if ((rc = parse_row(name, line, lineno, t->nrows + 1, delimiter, t)) < 0)
			return rc;
	}
	if (t->nrows == 0) {
		ctl_errorf("%s: no rows%s", name, t->had_header ? " after the header" : "");
		return -EINVAL;
	}
	return 0;
}

/* The rows (shape[0]) of an output tensor: its shape, else its data's length. */
static size_t tensor_rows(json_t *tensor)
{
	json_t *shape = json_object_get(tensor, "shape");

	if (json_array_size(shape) >= 1 && json_integer_value(json_array_get(shape, 0)) >= 0)
		return (size_t)json_integer_value(json_array_get(shape, 0));
	return json_array_size(json_object_get(tensor, "data"));
}

/*
 * Checks that every output of the answer has nrows rows (a row dropped or added would
 * shift every prediction after it), then prints the answer, or with output only that
 * tensor one row per line. Returns an exit code.
 */
static int print_answer(const struct client_response *r, const char *output, size_t nrows,
                        const json_t *names)
{
	json_t *answer = NULL, *outputs, *o, *tensor = NULL, *shape, *data, *v;
	size_t i, width = 1, inner = 1, nf = json_array_size(names);
	char jerr[256], num[40];

	if (jsonx_parse(r->body, r->len, ANSWER_JSON_DEPTH, 1, &answer, jerr, sizeof(jerr)) < 0) {
		ctl_errorf("the answer is not JSON: %s", jerr);
		return CTL_EXIT_CHECK;
	}
	outputs = json_object_get(answer, "outputs");
	json_array_foreach(outputs, i, o)
	{
		const char *n = json_string_value(json_object_get(o, "name"));

		if (nrows && tensor_rows(o) != nrows) {
			ctl_errorf("the answer's output '%s' has %zu rows for %zu input rows",
			           n ? n : "?", tensor_rows(o), nrows);
			json_decref(answer);
			return CTL_EXIT_CHECK;
		}
		if (output && n && strcmp(n, output) == 0)
			tensor = o;
	}
	if (!output) {
		json_decref(answer);
		ctl_print_body(r);
		return CTL_EXIT_OK;
	}
	data = json_object_get(tensor, "data");
	if (!json_is_array(data)) {
		ctl_errorf("the answer has no output '%s'", output);
		json_decref(answer);
		return CTL_EXIT_CHECK;
	}
	/* One row per line: the product of the dimensions after the first (N). */
	shape = json_object_get(tensor, "shape");
	for (size_t k = 1; k < json_array_size(shape); k++) {
		json_int_t dim = json_integer_value(json_array_get(shape, k));
		if (dim > 0) {
			width *= (size_t)dim;
			inner = (size_t)dim;
		}
	}
	/* Contributions with the metadata's feature names: name=value, the bias last. */
	if (strcmp(output, "contribs") != 0 || inner != nf + 1)
		names = NULL;
	json_array_foreach(data, i, v)
	{
		double d;
		bool end = (i + 1) % width == 0 || i + 1 == json_array_size(data);

		if (jsonx_number(v, &d) < 0)
			d = NAN;
		if (json_is_integer(v)) {
			/* INT32 outputs (leaf indices) print as integers. */
			printf("%" JSON_INTEGER_FORMAT "%c", json_integer_value(v),
			       end ? '\n' : ' ');
			continue;
		}
		if (names && i % inner < nf)
			printf("%s=", json_string_value(json_array_get(names, i % inner)));
		else if (names)
			printf("bias=");
		/* Multi-class contributions: one class's group per line. */
		printf("%s%c", ctl_fmt_float(d, num, sizeof(num)),
		       end || (names && (i + 1) % inner == 0) ? '\n' : ' ');
		if (end && names && width > inner)
			printf("\n");
	}
	json_decref(answer);
	return CTL_EXIT_OK;
}

/* The rows of a JSON request's first input (shape[0]), 0 when it does not say. */
static size_t request_rows(const char *body, size_t len)
{
	json_t *req = NULL, *shape;
	char jerr[256];
	size_t n = 0;

	if (jsonx_parse(body, len, ANSWER_JSON_DEPTH, 1, &req, jerr, sizeof(jerr)) < 0)
		return 0;
	shape = json_object_get(json_array_get(json_object_get(req, "inputs"), 0), "shape");
	if (json_array_size(shape) >= 1 && json_integer_value(json_array_get(shape, 0)) > 0)
		n = (size_t)json_integer_value(json_array_get(shape, 0));
	json_decref(req);
	return n;
}

enum {
	OPT_JSON = 0x100,
	OPT_CSV,
	OPT_MODEL_VERSION,
	OPT_HEADER,
	OPT_NO_HEADER,
	OPT_DELIMITER,
};

static const struct option cmd_longopts[] = {
    {"json", required_argument, NULL, OPT_JSON},
    {"csv", required_argument, NULL, OPT_CSV},
    {"output", required_argument, NULL, 'o'},
    {"model-version", required_argument, NULL, OPT_MODEL_VERSION},
    {"header", no_argument, NULL, OPT_HEADER},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {NULL, 0, NULL, 0},
};

/* --delimiter: one character, or "tab" / "\t". 0 or -EINVAL. */
static int parse_delimiter(const char *s, char *out)
{
	if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0 || strcmp(s, "\t") == 0) {
		*out = '\t';
		return 0;
	}
	if (strlen(s) != 1 || strchr("\"\r\n", s[0]) || s[0] == '.' || s[0] == '-' ||
	    (s[0] >= '0' && s[0] <= '9'))
		return -EINVAL;
	*out = s[0];
	return 0;
}

/* What infer was asked for. */
struct cmd_args {
	const char *name, *version, *json_file, *csv_file, *output;
	enum ctl_csv_header header;
	char delimiter;
	bool header_given, delimiter_given;
};

/* Parses infer's arguments; values go to t. -1 to go on, or the exit status to return. */
static int parse_infer_args(struct ctl *ctl, int argc, char **argv, struct cmd_args *a,
                            struct ctl_rows *t)
{
	struct ctl_opts o;
	const char *arg;
	int c;

	ctl_opts_init(&o, argc, argv, "o:", cmd_longopts);
	o.numbers_are_operands = true;
	while ((c = ctl_opts_next(ctl, &o, &arg)) != -1) {
		float x;

		switch (c) {
		case CTL_OPTS_ERROR:
		case CTL_OPTS_EXIT_OK:
			return CTL_OPTS_STATUS(c);
		case OPT_JSON:
			a->json_file = arg;
			break;
		case OPT_CSV:
			a->csv_file = arg;
			break;
		case 'o':
			a->output = arg;
			break;
		case OPT_MODEL_VERSION:
			a->version = arg;
			break;
		case OPT_HEADER:
		case OPT_NO_HEADER:
			if (a->header_given)
				return ctl_usage_error(
				    "--header and --no-header exclude each other", NULL);
			a->header = c == OPT_HEADER ? CTL_CSV_HEADER_YES : CTL_CSV_HEADER_NO;
			a->header_given = true;
			break;
		case OPT_DELIMITER:
			if (parse_delimiter(arg, &a->delimiter) < 0)
				return ctl_usage_error(
				    "--delimiter needs one character (or 'tab'), not a digit, '.', "
				    "'-' or a quote",
				    arg);
			a->delimiter_given = true;
			break;
		case 1:
			if (!a->name) {
				a->name = arg;
			} else if (ctl_parse_value(arg, &x) == 0) {
				if (rows_push(t, x) < 0) {
					ctl_errorf("out of memory");
					return CTL_EXIT_USAGE;
				}
			} else {
				return ctl_usage_error("not a number", arg);
			}
			break;
		default:
			return ctl_usage_error("unexpected option", argv[optind - 1]);
		}
	}
	if (!a->name)
		return ctl_usage_error("infer needs a MODEL", NULL);
	if (!!a->json_file + !!a->csv_file + (t->n > 0) != 1)
		return ctl_usage_error(
		    "infer needs exactly one of --json FILE, --csv FILE or values", NULL);
	if ((a->header_given || a->delimiter_given) && !a->csv_file)
		return ctl_usage_error("--header, --no-header and --delimiter go with --csv", NULL);
	/* Any output name: the daemon says which ones the model serves. */
	if (a->output && (!*a->output || strlen(a->output) > 32 ||
	                  strspn(a->output, "abcdefghijklmnopqrstuvwxyz_") != strlen(a->output)))
		return ctl_usage_error("--output takes an output name (predict, margin, "
		                       "predict_proba, label, contribs, leaf)",
		                       a->output);
	return -1;
}

/*
 * infer MODEL: builds the request (a JSON file as is, CSV rows or values as FP32 [N, F]),
 * sends it, checks the answer has as many rows as were sent, and prints it.
 */
int ctl_cmd_infer(struct ctl *ctl, int argc, char **argv)
{
	struct cmd_args a = {.header = CTL_CSV_HEADER_AUTO, .delimiter = ','};
	struct ctl_rows t = {0};
	struct client_response r;
	char path[192], meta[192], *body = NULL, *text = NULL;
	json_t *names = NULL;
	size_t len = 0, nrows = 0;
	int ret;

	if ((ret = parse_infer_args(ctl, argc, argv, &a, &t)) >= 0)
		goto out;
	if ((ret = ctl_model_path(a.name, a.version, "/infer", path, sizeof(path))) != CTL_EXIT_OK)
		goto out;
	ret = CTL_EXIT_USAGE;
	if (a.json_file) {
		if (ctl_read_all(a.json_file, &body, &len) < 0)
			goto out;
		nrows = request_rows(body, len);
	} else {
		if (a.csv_file) {
			const char *shown = strcmp(a.csv_file, "-") ? a.csv_file : "stdin";

			if (ctl_read_all(a.csv_file, &text, &len) < 0)
				goto out;
			/* Text stops at a NUL: refuse rather than silently drop the rest. */
			if (strlen(text) != len) {
				ctl_errorf("%s: not a text file (NUL byte)", shown);
				goto out;
			}
			if (ctl_csv_parse(shown, text, a.delimiter, a.header, &t) < 0)
				goto out;
		} else {
			t.ncols = t.n;
			t.nrows = 1;
		}
		nrows = t.nrows;
		body = client_fp32_request(t.v, t.nrows, t.ncols, a.output, &len);
		if (!body) {
			ctl_errorf("out of memory");
			goto out;
		}
	}
	if ((ret = ctl_connect(ctl)) != CTL_EXIT_OK)
		goto out;
	if (a.output && strcmp(a.output, "contribs") == 0 &&
	    ctl_model_path(a.name, a.version, "", meta, sizeof(meta)) == CTL_EXIT_OK &&
	    ctl_exchange(ctl, "GET", meta, NULL, 0, &r) == 0 && r.status == 200) {
		/* The metadata's feature_names label the contributions (null when none). */
		json_t *m = ctl_answer_json(&r);
		json_t *fn = json_object_get(json_object_get(m, "parameters"), "feature_names");
		if (json_is_array(fn))
			names = json_incref(fn);
		json_decref(m);
	}
	if (ctl_exchange(ctl, "POST", path, body, len, &r) < 0) {
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	ret = ctl_answer_status("POST", path, &r);
	if (ret == CTL_EXIT_OK)
		ret = print_answer(&r, a.output, nrows, names);
out:
	json_decref(names);
	free(t.v);
	free(text);
	free(body);
	return ret;
}
