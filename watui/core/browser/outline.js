(() => {
  const keep = (name) => name === "id" || name === "class" || name === "role" || name.startsWith("data-")
                         || name.startsWith("aria-");
  const lines = [];
  const walk = (node, depth) => {
    if (lines.length > 4000 || depth > 60) return;
    const attrs = [];
    for (const a of node.attributes || []) {
      if (keep(a.name)) attrs.push(`${a.name}=${JSON.stringify(a.value.slice(0, 80))}`);
    }
    let text = "";
    for (const c of node.childNodes) if (c.nodeType === 3) text += c.textContent;
    text = text.trim().replace(/\s+/g, " ").slice(0, 40);
    lines.push(`${"  ".repeat(depth)}<${node.tagName.toLowerCase()}${attrs.length ? " " + attrs.join(" ") : ""}>`
               + (text ? ` ${JSON.stringify(text)}` : ""));
    for (const child of node.children) walk(child, depth + 1);
  };
  if (document.documentElement) walk(document.documentElement, 0);
  return lines.join("\n");
})()
