/**
 * Escaping of text written into the XML documents libvirt clients read.
 *
 * @module
 */

/** `value` with XML's five special characters as entities (for text and attribute values). */
export function escape(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll("'", "&apos;").replaceAll('"', "&quot;");
}
