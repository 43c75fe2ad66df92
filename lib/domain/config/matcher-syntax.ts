// Alertmanager's label matcher syntax, in a module of its own so every config section's schema can
// use it without importing the whole schema (match.ts imports schema.ts).

/** A label matcher in Alertmanager's syntax: name="v", name!="v", name=~"re", name!~"re". */
export const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/;
