/* outputs.c: a served model's named outputs: which exist, their shapes, and computing them. */
#include "outputs.h"
#include <errno.h>
#include <string.h>
#include "conf.h"
#include "model.h"
#include "shap.h"

unsigned outputs_available(const struct model_info *mi)
{
	unsigned bits = CONF_OUT_PREDICT | CONF_OUT_MARGIN | CONF_OUT_CONTRIBS;

	if (mi->classifier) {
		bits |= CONF_OUT_PROBA;
		if (!(mi->num_group == 2 && mi->objective &&
		      strcmp(mi->objective, "multi:softprob") == 0))
			bits |= CONF_OUT_LABEL;
	}
	if (mi->booster && strcmp(mi->booster, "gblinear") != 0)
		bits |= CONF_OUT_LEAF;
	return bits;
}

unsigned outputs_default(const struct model_info *mi)
{
	return outputs_available(mi) &
	       (CONF_OUT_PREDICT | CONF_OUT_MARGIN | CONF_OUT_PROBA | CONF_OUT_LABEL);
}

size_t outputs_trees(const struct model_info *mi, size_t tree_limit)
{
	return tree_limit && tree_limit < mi->num_trees ? tree_limit : mi->num_trees;
}

static size_t one_dim(size_t w, size_t *ndims, size_t dims[2])
{
	*ndims = w == 1 ? 0 : 1;
	dims[0] = w;
	return w;
}

size_t outputs_shape(const struct model_info *mi, size_t tree_limit, unsigned bit, size_t *ndims,
                     size_t dims[2], bool *int32)
{
	*int32 = false;
	dims[0] = dims[1] = 1;
	switch (bit) {
	case CONF_OUT_PREDICT:
		return one_dim(mi->predict_width, ndims, dims);
	case CONF_OUT_MARGIN:
		return one_dim(mi->margin_width, ndims, dims);
	case CONF_OUT_PROBA:
		*ndims = 1;
		dims[0] = mi->proba_width;
		return dims[0];
	case CONF_OUT_CONTRIBS:
		if (mi->num_group > 1) {
			*ndims = 2;
			dims[0] = mi->num_group;
			dims[1] = mi->num_feature + 1;
			return dims[0] * dims[1];
		}
		*ndims = 1;
		dims[0] = mi->num_feature + 1;
		return dims[0];
	case CONF_OUT_LEAF:
		*int32 = true;
		*ndims = 1;
		dims[0] = outputs_trees(mi, tree_limit);
		return dims[0];
	default: /* label */
		*ndims = 0;
		return 1;
	}
}

int outputs_compute(const struct outputs_model *om, const float *rows, size_t nrows, unsigned want,
                    void *const dst[])
{
	const struct model_info *mi = model_get_info(om->model);
	struct model_outputs o = {0};
	int r = 0;

	if (want & CONF_OUT_MARGIN)
		o.margin = dst[1];
	if (want & CONF_OUT_PREDICT)
		o.predict = dst[0];
	if (want & CONF_OUT_PROBA)
		o.proba = dst[2];
	if (want & CONF_OUT_LABEL)
		o.label = dst[3];
	if (o.margin || o.predict || o.proba || o.label) {
		/* The plain case keeps model_predict's path: no sklearn outputs, all trees. */
		if (!o.proba && !o.label && om->tree_limit == 0)
			model_predict(om->model, rows, nrows, o.margin, o.predict);
		else
			r = model_predict_ex(om->model, rows, nrows, om->tree_limit, &o);
		if (r < 0)
			return r;
	}
	if (want & CONF_OUT_CONTRIBS) {
		const float *w = model_linear_weights(om->model);

		if (w)
			shap_linear_contribs(w, (uint32_t)mi->num_feature, (uint32_t)mi->num_group,
			                     rows, nrows, model_base_margin(om->model), 0, dst[4]);
		else if (!om->shap)
			return -ENOTSUP;
		else if ((r = shap_contribs(om->shap, rows, nrows, om->tree_limit,
		                            model_base_margin(om->model), 0, NULL, dst[4])) < 0)
			return r;
	}
	if (want & CONF_OUT_LEAF) {
		if (!om->shap)
			return -ENOTSUP;
		shap_leaf(om->shap, rows, nrows, outputs_trees(mi, om->tree_limit), dst[5]);
	}
	return 0;
}
