// An echo bot in Node >= 18, no packages: watui POSTs each incoming message here ([messages.webhook] url),
// the bot answers through `watui serve`. Env: WATUI_URL, WATUI_TOKEN, WATUI_WEBHOOK_SECRET, PORT.
import crypto from "node:crypto";
import http from "node:http";

const { WATUI_URL = "http://127.0.0.1:3000", WATUI_TOKEN = "", WATUI_WEBHOOK_SECRET, PORT = "8080" } = process.env;
if (!WATUI_WEBHOOK_SECRET) { console.error("echo_bot: set WATUI_WEBHOOK_SECRET ([messages.webhook] secret)"); process.exit(2); }

http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);  // the raw body: the signature is over these bytes
  const expected = Buffer.from("sha256=" + crypto.createHmac("sha256", WATUI_WEBHOOK_SECRET).update(body).digest("hex"));
  const given = Buffer.from(req.headers["x-watui-signature"] ?? "");
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return res.writeHead(401).end();
  const msg = JSON.parse(body);  // client.on("message", (msg) => ...) in whatsapp-web.js
  if (msg.event === "message" && msg.type === "chat") {
    const reply = await fetch(`${WATUI_URL}/api/whatsapp/messages`, {  // msg.reply(...) / client.sendMessage(...)
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${WATUI_TOKEN}` },
      // The same key again is the same message: a delivery watui makes again is never echoed twice.
      body: JSON.stringify({ to: msg.chat, text: `echo: ${msg.body}`, key: `echo-${msg.chat}-${msg.id}` }),
    }).catch(() => null);
    if (reply?.status !== 202) return res.writeHead(503).end();  // not queued: watui delivers this one again
  }
  res.writeHead(204).end();
}).listen(Number(PORT), "127.0.0.1");
