// watui's messaging in WhatsApp Web's page: send with watui's own message id, find a message by its id,
// and push acks and incoming messages to Python through one binding. Read by watui/core/messages/page.py,
// which fills in __BINDING__ and __MODULES__ and installs it in every document of the session's tab.
// Only WhatsApp's own modules are used (the names are the config's), as whatsapp-web.js 1.34.7 uses them.
(() => {
  if (window.top !== window) return; // only the tab's own document, never a frame inside it
  const BINDING = __BINDING__;
  const MODS = __MODULES__;
  if (window.__watuiMessages && window.__watuiMessages.binding === BINDING) return;
  const ACK_NAMES = { "-1": "failed", 1: "sent", 2: "delivered", 3: "read", 4: "read" };
  const NOTICE_TYPES = new Set(["e2e_notification", "gp2", "notification", "notification_template",
                                "protocol", "ciphertext", "revoked", "call_log", "broadcast_notification"]);
  const known = new Set(); // chats QueryExists said are on WhatsApp (positive answers only, this document)
  let attached = false;

  const req = (key) => {
    if (typeof window.require !== "function") throw new Error("window.require is not a function");
    const m = window.require(MODS[key]);
    if (m == null) throw new Error(`module ${MODS[key]} is missing`);
    return m;
  };
  const text = (e) => String((e && e.message) || e);
  const serial = (wid) => (wid == null ? null : String(wid._serialized || wid));
  const push = (event) => {
    const fn = window[BINDING];
    if (typeof fn === "function") Promise.resolve(fn(event)).catch(() => {});
  };

  const ackEvent = (msg) => {
    if (!msg || !msg.id || !msg.id.fromMe) return;
    const state = ACK_NAMES[String(msg.ack)];
    if (state) push({ kind: "ack", id: msg.id.id, chat: serial(msg.id.remote), ack: msg.ack, state });
  };
  const incomingEvent = (msg) => {
    if (!msg || !msg.id || msg.id.fromMe || !msg.isNewMsg || NOTICE_TYPES.has(msg.type)) return;
    const media = msg.type !== "chat";
    const body = media ? (msg.caption || "") : (msg.body || "");
    push({ kind: "incoming", id: msg.id.id, chat: serial(msg.id.remote), sender: serial(msg.author) || null,
           t: typeof msg.t === "number" ? msg.t : null, type: msg.type || "chat",
           body: typeof body === "string" ? body : "" });
  };

  // WhatsApp's collections exist some time after the document: look every 100 ms until they do, then
  // only WhatsApp's own events push (no polling once attached).
  const attach = () => {
    if (attached) return true;
    let Msg;
    try { Msg = req("collections").Msg; } catch (e) { return false; }
    if (!Msg || typeof Msg.on !== "function") return false;
    Msg.on("change:ack", (msg) => ackEvent(msg));
    Msg.on("add", (msg) => incomingEvent(msg));
    attached = true;
    // What arrived before the listeners: pushed once now (the inbox drops a duplicate by its id).
    try {
      const all = typeof Msg.getModelsArray === "function" ? Msg.getModelsArray() : [];
      for (const msg of all) { incomingEvent(msg); ackEvent(msg); }
    } catch (e) { /* a store being replaced: its events still come */ }
    return true;
  };
  const hook = setInterval(() => { if (attach()) clearInterval(hook); }, 100);

  const socketState = () => {
    const Socket = req("socket").Socket;
    return { state: Socket.state, synced: !!Socket.hasSynced };
  };

  // The key WhatsApp files our message under: fromMe, remote = the chat, id = watui's id.
  const keyFor = (chat, id) => {
    const me = req("me_user");
    const chatWid = chat.id || chat;
    const lid = typeof chatWid.isLid === "function" && chatWid.isLid();
    let from = lid ? me.getMaybeMeLidUser() : me.getMaybeMePnUser();
    let participant;
    if (typeof chatWid.isGroup === "function" && chatWid.isGroup()) {
      from = chat.groupMetadata && chat.groupMetadata.isLidAddressingMode ? me.getMaybeMeLidUser()
                                                                           : me.getMaybeMePnUser();
      participant = req("wid_factory").asUserWidOrThrow(from);
    }
    const MsgKey = req("msg_key");
    return { key: new MsgKey({ from, to: chatWid, id, participant, selfDir: "out" }), from };
  };

  const inStore = async (Collections, chatModel, key) => {
    const serialized = key._serialized;
    if (Collections.Msg.get(serialized)) return true;
    if (chatModel && chatModel.msgs && typeof chatModel.msgs.get === "function" && chatModel.msgs.get(serialized)) {
      return true;
    }
    if (typeof Collections.Msg.getMessagesById === "function") { // the page's own database
      const found = await Collections.Msg.getMessagesById([serialized]);
      if (found && found.messages && found.messages.length) return true;
    }
    return false;
  };

  // -> {ok: true} once WhatsApp's server took it; {ok: false, reason, permanent} when certainly not sent.
  // A throw after the message was handed to WhatsApp means: unknown (it may have gone).
  const send = async ({ chat, id, body, confirmMs }) => {
    let handed = false;
    try {
      const Collections = req("collections");
      const wid = req("wid_factory").createWid(chat);
      const socket = socketState();
      if (socket.state !== "CONNECTED") {
        return { ok: false, permanent: false, reason: `WhatsApp Web is not connected (state ${socket.state})` };
      }
      if (wid.server === "c.us" && !known.has(wid._serialized)) {
        const exists = await req("query_exists").queryWidExists(wid);
        if (!exists || exists.wid === undefined) {
          return { ok: false, permanent: true, reason: `${wid.user} is not on WhatsApp` };
        }
        known.add(wid._serialized);
      }
      // A group is a chat the account is in: WhatsApp Web holds every one of them in its Chat collection
      // (from its own database, before the sync), and no find opens another.
      if (typeof wid.isGroup === "function" && wid.isGroup() && !Collections.Chat.get(wid)) {
        if (!socket.synced) return { ok: false, permanent: false, reason: "WhatsApp Web has not synced its chats yet" };
        return { ok: false, permanent: true, reason: `${wid._serialized} is not a group this account is in` };
      }
      const chatModel = Collections.Chat.get(wid)
        || ((await req("find_chat").findOrCreateLatestChat(wid)) || {}).chat;
      if (!chatModel) return { ok: false, permanent: false, reason: `the chat ${chat} cannot be opened` };
      const getters = req("chat_getters");
      if (getters.getIsNewsletter(chatModel) || getters.getIsBroadcast(chatModel)) {
        return { ok: false, permanent: true, reason: `${chat} is a channel or a broadcast: watui sends only to chats` };
      }
      const { key, from } = keyFor(chatModel, id);
      if (await inStore(Collections, chatModel, key)) return { ok: true, already: true }; // taken before
      const message = {
        id: key, ack: 0, body, from, to: chatModel.id, local: true, self: "out",
        t: Math.floor(Date.now() / 1000), isNewMsg: true, type: "chat",
        ...req("ephemeral").getEphemeralFields(chatModel),
      };
      handed = true;
      const [added, result] = req("send_action").addAndSendMsgToChat(chatModel, message);
      await added;
      const outcome = await Promise.race([
        result, new Promise((resolve) => setTimeout(() => resolve({ timeout: true }), confirmMs)),
      ]);
      if (outcome && outcome.timeout) throw new Error(`no answer from WhatsApp's server within ${confirmMs} ms`);
      const verdict = outcome && (outcome.messageSendResult || outcome);
      if (verdict === "ERROR") { // the server refused it: it went nowhere
        return { ok: false, permanent: true, reason: "WhatsApp's server refused the message" };
      }
      // Any other failure (a network error WhatsApp may still retry, ...): the outcome is not known.
      if (typeof verdict === "string" && verdict !== "OK") throw new Error(`WhatsApp's send result: ${verdict}`);
      return { ok: true };
    } catch (e) {
      if (handed) throw e;
      return { ok: false, permanent: false, reason: `WhatsApp Web's modules failed before sending: ${text(e)}` };
    }
  };

  // -> "found" | "not found" | "unknown" (with why).
  const find = async ({ chat, id }) => {
    try {
      const Collections = req("collections");
      const socket = socketState();
      if (!socket.synced) return { answer: "unknown", why: "WhatsApp Web has not synced its messages yet" };
      const wid = req("wid_factory").createWid(chat);
      const chatModel = Collections.Chat.get(wid) || null;
      const { key } = keyFor(chatModel || { id: wid }, id);
      return { answer: (await inStore(Collections, chatModel, key)) ? "found" : "not found" };
    } catch (e) {
      return { answer: "unknown", why: text(e) };
    }
  };

  window.__watuiMessages = { binding: BINDING, send, find, attached: () => attach() };
})();
