// Lookups by untrusted keys (Event reasons, label values, alert names) into plain-object tables:
// only the table's own entries count, never Object.prototype's ("constructor", "valueOf").
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
