// The simulator's WhatsApp Web page: renders what the server says over the WebSocket, keeps the
// login in IndexedDB ("wawc" / "user") and localStorage like the real site, and reconnects by itself.
// Variants (the server's choice, in <meta name="wsim-variant">):
//   modules: today's page as maintained public clients read it: window.Debug.VERSION and a window.require
//            serving WAWebSocketModel, WAWebConnModel, WAWebCmd... with Backbone-style on/off events; the
//            markup has no id or data-* a selector could hold on to, and the QR canvas no data-ref. The
//            messaging modules (WAWebCollections Chat/Msg, WAWebMsgKey, WAWebSendMsgChatAction,
//            WAWebQueryExistsJob...) carry sends and incoming messages over the same WebSocket.
//   dom:     no window.require; ids and data-* attributes as the selector era's page had them.
//   canvas:  as dom, but the QR container has no data-ref: only its pixels tell the payload.
"use strict";

(() => {
  const PAGE_ID = document.querySelector('meta[name="wsim-page"]').content;
  const VARIANT = document.querySelector('meta[name="wsim-variant"]').content;
  // Attributes the selector era relied on; the modules page has none of them (obfuscated classes only).
  const DOM_ATTRS = ["id", "data-testid", "data-icon", "data-modal", "data-animate-modal-popup", "data-action",
                     "data-ref"];
  const DB_NAME = "wawc";
  const STORE = "user";
  const TOKEN_KEY = "login-token";
  const LS_TOKEN = "WAToken1";
  const LS_WID = "last-wid-md";
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 5000;
  const CLOSE_STALLED = 4002; // the server's /__sim/stall: show the banner, never retry

  const app = document.getElementById("app");
  let ws = null;
  let chain = Promise.resolve();
  let view = "startup"; // startup | qr | expired | pairing | main | offline
  let inConflict = false;
  let takeover = false;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer = null;

  // -- storage ---------------------------------------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function inStore(mode, act) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = act(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req ? req.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  function lsGet(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  async function readToken() {
    try {
      const token = await inStore("readonly", (s) => s.get(TOKEN_KEY));
      if (typeof token === "string" && token) return token;
    } catch (e) { /* no IndexedDB: fall back to localStorage */ }
    return lsGet(LS_TOKEN);
  }

  async function storeLogin(token, wid) {
    if (!token) return;
    // The chat list appears only once the login is committed, so a browser closed right after sees it.
    try { await inStore("readwrite", (s) => s.put(token, TOKEN_KEY)); } catch (e) { /* keep localStorage */ }
    try {
      localStorage.setItem(LS_TOKEN, token);
      localStorage.setItem(LS_WID, JSON.stringify(wid));
    } catch (e) { /* storage full or denied: the session lives until the page closes */ }
  }

  async function wipeLogin() {
    try { await inStore("readwrite", (s) => s.clear()); } catch (e) { /* nothing stored */ }
    try {
      localStorage.removeItem(LS_TOKEN);
      localStorage.removeItem(LS_WID);
    } catch (e) { /* nothing stored */ }
  }

  // -- DOM helpers -----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (VARIANT === "modules" && DOM_ATTRS.includes(key)) continue;
      if (VARIANT === "canvas" && key === "data-ref") continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function show(name, ...nodes) {
    view = name;
    app.replaceChildren(...nodes);
  }

  function banner() {
    return el("div", { id: "conn-banner", class: "banner", role: "alert" },
      el("span", { "data-icon": "alert-computer", class: "banner-icon", "aria-hidden": "true", text: "!" }),
      el("div", { class: "banner-text" },
        el("div", { class: "banner-title", text: "Computer not connected" }),
        el("div", { class: "banner-sub", text: "Trying to reach WhatsApp\u2026 Make sure your computer has an active Internet connection." })));
  }

  function clearBanner() {
    const old = document.querySelector(".banner");
    if (old) old.remove();
  }

  function clearConflict() {
    const old = document.querySelector(".overlay");
    if (old) old.remove();
    inConflict = false;
  }

  // -- views -----------------------------------------------------------------------------------------
  function landing(box) {
    return el("div", { class: "landing" },
      el("div", { class: "landing-strip" }),
      el("div", { class: "landing-header", text: "WhatsApp Web" }),
      el("div", { class: "landing-card" },
        el("div", { class: "landing-text" },
          el("h1", { text: "Use WhatsApp on your computer" }),
          el("ol", {},
            el("li", { text: "Open WhatsApp on your phone" }),
            el("li", { text: "Tap Menu or Settings and select Linked devices" }),
            el("li", { text: "Tap on Link a device" }),
            el("li", { text: "Point your phone to this screen to capture the QR code" }))),
        el("div", { class: "qr-box" }, box)),
      el("div", { class: "landing-note", text: "watui simulator \u2014 not the real WhatsApp" }));
  }

  function drawQr(canvas, matrix) {
    const ctx = canvas.getContext("2d");
    const n = matrix.length;
    const quiet = 2;
    const scale = Math.floor(canvas.width / (n + 2 * quiet));
    const offset = Math.floor((canvas.width - scale * n) / 2);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#122e31";
    matrix.forEach((row, y) => {
      for (let x = 0; x < row.length; x += 1) {
        if (row[x] === "1") ctx.fillRect(offset + x * scale, offset + y * scale, scale, scale);
      }
    });
  }

  function renderQr(payload, matrix) {
    const canvas = el("canvas", { "aria-label": "Scan me!", role: "img", width: "264", height: "264" });
    drawQr(canvas, matrix);
    const current = document.querySelector(".qr-box > div");
    if (view === "qr" && current) {
      // A rotation changes the ref in place, as the real page does.
      if (VARIANT === "dom") current.setAttribute("data-ref", payload);
      current.replaceChildren(canvas);
      return;
    }
    show("qr", landing(el("div", { "data-ref": payload, class: "x1qr" }, canvas)));
  }

  function renderExpired() {
    const button = el("button", { type: "button", class: "reload", text: "Click to reload QR code" });
    button.addEventListener("click", () => {
      button.disabled = true;
      send({ t: "reload_qr" });
    });
    Socket.set("state", "UNPAIRED_IDLE");
    show("expired", landing(el("div", { "data-ref": "" }, el("span", {}, button))));
  }

  function renderPairing() {
    Conn.set("ref", null);
    Socket.set("state", "PAIRING");
    show("pairing", el("div", { class: "loading-screen" },
      el("div", { "data-testid": "loading-chats", class: "loading-chats" },
        el("progress", { max: "100" }),
        el("div", { text: "Loading your chats" }))));
  }

  function chatRow(chat) {
    const unread = chat.unread ? el("span", { class: "chat-unread", text: chat.unread }) : "";
    return el("div", { class: "chat", role: "listitem" },
      el("div", { class: "avatar", "aria-hidden": "true", text: chat.name.slice(0, 1) }),
      el("div", { class: "chat-body" },
        el("div", { class: "chat-top" },
          el("span", { class: "chat-name", text: chat.name }),
          el("span", { class: "chat-time", text: chat.time })),
        el("div", { class: "chat-bottom" }, el("span", { class: "chat-last", text: chat.last }), unread)));
  }

  function renderMain(account, chats) {
    if (view === "main") return; // a reconnect: the chat list is already there
    const side = el("div", { id: "side", class: "side" },
      el("header", {},
        el("div", { class: "avatar me", "aria-hidden": "true", text: account.name.slice(0, 1) }),
        el("div", { class: "me-text" },
          el("span", { "data-testid": "account-name", class: "account-name", text: account.name }),
          el("span", { "data-testid": "account-number", class: "account-number", text: account.number }))),
      el("div", { id: "banner-slot", class: "banner-slot" }),
      el("div", { class: "search", text: "Search or start a new chat" }),
      el("div", { id: "pane-side", class: "pane-side", role: "list", "aria-label": "Chat list" },
        ...chats.map(chatRow)));
    const main = el("div", { id: "main-empty", class: "main-empty" },
      el("h2", { text: "WhatsApp Web" }),
      el("p", { text: "Send and receive messages without keeping your phone online." }),
      el("p", { class: "e2e", text: "Your personal messages are end-to-end encrypted" }));
    show("main", el("div", { class: "two-pane" }, side, main));
  }

  function renderConflict() {
    clearConflict();
    inConflict = true;
    const useHere = el("button", { type: "button", "data-action": "use-here", class: "primary", text: "Use here" });
    const close = el("button", { type: "button", "data-action": "close", text: "Close" });
    const dialog = el("div", { "data-animate-modal-popup": "true", "data-modal": "conflict", role: "dialog", class: "modal" },
      el("div", { class: "modal-body", text: "WhatsApp is open in another window. Click \u201cUse here\u201d to use WhatsApp in this window." }),
      el("div", { class: "modal-actions" }, close, useHere));
    useHere.addEventListener("click", () => {
      useHere.disabled = true;
      close.disabled = true;
      useHereNow();
    });
    close.addEventListener("click", () => window.close());
    document.body.append(el("div", { class: "overlay" }, dialog));
  }

  function useHereNow() {
    inConflict = false;
    takeover = true;
    reconnectNow();
  }

  function renderBlocked(reason) {
    blocked = reason;
    clearConflict();
    Socket.set("state", reason);
    const texts = {
      DEPRECATED_VERSION: "This version of WhatsApp Web is no longer supported. Update your browser.",
      PROXYBLOCK: "WhatsApp cannot be reached through this network.",
      TOS_BLOCK: "This account is not allowed to use WhatsApp.",
      SMB_TOS_BLOCK: "This business account is not allowed to use WhatsApp.",
    };
    show("blocked", el("div", { class: "loading-screen", role: "alert" },
      el("div", { class: "blocked-text", text: texts[reason] || reason })));
  }

  function renderOffline() {
    clearConflict();
    Socket.set("state", "TIMEOUT");
    if (document.querySelector(".banner")) return;
    if (view === "main") {
      document.querySelector(".banner-slot").append(banner());
    } else if (view !== "startup") {
      // Without a connection the QR (or the reload button) would be a lie: replace it by the banner.
      show("offline", landing(banner()));
    }
  }

  // -- the connection --------------------------------------------------------------------------------
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  async function handle(message) {
    switch (message.t) {
      case "qr":
        clearBanner();
        renderQr(message.payload, message.matrix);
        keys = message.keys;
        Conn.set("ref", message.ref);
        Socket.set("state", "UNPAIRED");
        break;
      case "qr_expired": Conn.set("ref", null); renderExpired(); break;
      case "pairing": renderPairing(); break;
      case "connected":
        await storeLogin(message.token, message.wid);
        clearConflict();
        clearBanner();
        takeover = false;
        renderMain(message.account, message.chats);
        Conn.set("pushname", message.account.name);
        Conn.set("wid", { user: message.wid.split(/[:@]/)[0], server: "c.us", _serialized: message.wid });
        for (const group of message.groups || []) addGroup(group);
        Socket.set("state", "CONNECTED");
        flushOutbox();
        break;
      case "synced": // the offline backlog is in: as the real site, only now hasSynced
        Cmd.trigger("offline_progress_update_from_bridge");
        Socket.set("hasSynced", true);
        break;
      case "msg": receive(message); break;
      case "group": addGroup(message.group); break;
      case "ack": onAck(message); break;
      case "exists": answerExists(message); break;
      case "logged_out":
        await wipeLogin();
        Conn.set("wid", null);
        Conn.set("pushname", null);
        Socket.set("hasSynced", false);
        Cmd.trigger("logout_from_bridge");
        break;
      case "conflict": renderConflict(); Socket.set("state", "CONFLICT"); break;
      case "blocked": renderBlocked(message.reason); break;
      default: break;
    }
  }

  function onClosed(sock, code) {
    if (ws !== sock) return;
    ws = null;
    if (inConflict || blocked) return; // no retry until "Use here"; a block is final
    renderOffline();
    if (code === CLOSE_STALLED) return; // a tab that gave up: only a reload brings it back
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function reconnectNow() {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryMs = RETRY_FIRST_MS;
    connect();
  }

  async function connect() {
    retryTimer = null;
    const token = await readToken();
    const sock = new WebSocket(`wss://${location.host}/ws?page=${encodeURIComponent(PAGE_ID)}`);
    ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ t: "hello", token: token, takeover: takeover }));
    sock.onmessage = (event) => {
      let message = null;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      retryMs = RETRY_FIRST_MS;
      chain = chain.then(() => handle(message)).catch(() => {});
    };
    sock.onerror = () => {}; // onclose follows and decides
    sock.onclose = (event) => { chain = chain.then(() => onClosed(sock, event.code)).catch(() => {}); };
  }

  // -- WhatsApp's own modules (variant "modules"), as window.require serves them -----------------------
  // A Backbone-style model: attributes, on/off, and change:<attr> events called with (model, value).
  // Event names may be several, space-separated ("change:body change:caption"), as in Backbone; a model in a
  // collection also fires its events on the collection (Msg.on("change:ack") hears every message's ack).
  function model(attrs) {
    const handlers = {};
    const parents = [];
    const m = Object.assign({}, attrs);
    const names = (event) => String(event).split(/\s+/).filter(Boolean);
    Object.defineProperties(m, {
      on: { value: (event, fn) => {
        for (const name of names(event)) (handlers[name] = handlers[name] || []).push(fn);
        return m;
      } },
      once: { value: (event, fn) => {
        const one = (...args) => { m.off(event, one); fn(...args); };
        return m.on(event, one);
      } },
      off: { value: (event, fn) => {
        if (!event) { for (const k of Object.keys(handlers)) delete handlers[k]; return m; }
        for (const name of names(event)) handlers[name] = fn ? (handlers[name] || []).filter((h) => h !== fn) : [];
        return m;
      } },
      trigger: { value: (event, ...args) => {
        for (const h of [...(handlers[event] || [])]) { try { h(...args); } catch (e) { /* a listener's error */ } }
        for (const parent of parents) parent.trigger(event, ...args);
        return m;
      } },
      _parents: { value: parents },
      set: { value: (key, value) => {
        if (m[key] === value) return m;
        m[key] = value;
        m.trigger(`change:${key}`, m, value);
        m.trigger("change", m);
        return m;
      } },
    });
    return m;
  }

  let blocked = null;
  let keys = null; // {staticKey, identityKey, advSecretKey, platform}: the page's own, from the server
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const Socket = model({ state: "OPENING", hasSynced: false });
  Object.defineProperties(Socket, {
    takeover: { value: () => { if (inConflict) useHereNow(); } },
    reconnect: { value: () => reconnectNow() },
    logout: { value: () => send({ t: "logout" }) }, // the server revokes the login and answers logged_out
  });
  const Conn = model({ ref: null, pushname: null, wid: null, platform: "web" });
  Object.defineProperty(Conn, "serialize", { value: () => ({ ref: Conn.ref, pushname: Conn.pushname, wid: Conn.wid,
                                                             platform: Conn.platform }) });
  const Cmd = model({});
  Object.defineProperty(Cmd, "refreshQR", { value: () => {
    if (view === "expired") send({ t: "reload_qr" });
  } });
  const needKeys = () => { if (!keys) throw new Error("no registration yet"); return keys; };

  // -- messaging: WhatsApp's own shapes (a Wid, a MsgKey, Backbone-style Chat and Msg collections) ---------
  class Wid {
    constructor(serialized) {
      const at = serialized.indexOf("@");
      this.server = serialized.slice(at + 1);
      this.user = serialized.slice(0, at).split(":")[0];
      this._serialized = `${this.user}@${this.server}`;
    }
    isUser() { return this.server === "c.us"; }
    isLid() { return this.server === "lid"; }
    isGroup() { return this.server === "g.us"; }
    isStatus() { return this.user === "status" && this.server === "broadcast"; }
    isBroadcast() { return this.server === "broadcast"; }
    isNewsletter() { return this.server === "newsletter"; }
    toString() { return this._serialized; }
    toJid() { return this._serialized.replace("@c.us", "@s.whatsapp.net"); }
    equals(other) { return !!other && String(other._serialized || other) === this._serialized; }
  }
  function createWid(raw) {
    if (raw instanceof Wid) return raw;
    const text = raw && typeof raw === "object" ? raw._serialized : raw;
    if (typeof text !== "string" || !text.includes("@")) throw new Error(`createWid: not a wid: ${String(text)}`);
    return new Wid(text.replace("@s.whatsapp.net", "@c.us"));
  }
  const meWid = () => (Conn.wid ? createWid(Conn.wid._serialized) : null);

  class MsgKey {
    constructor({ from, to, id, participant, selfDir, fromMe, remote }) {
      this.fromMe = selfDir !== undefined ? selfDir === "out" : !!fromMe;
      this.remote = createWid(remote || (this.fromMe ? to : from));
      this.id = id;
      if (participant) this.participant = createWid(participant);
      const tail = participant ? `_${this.participant._serialized}` : "";
      this._serialized = `${this.fromMe}_${this.remote._serialized}_${id}${tail}`;
    }
    toString() { return this._serialized; }
    // A web client's ids: 3EB0 and hex, as the real site makes them.
    static async newId() {
      const hex = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(16).padStart(2, "0"));
      return `3EB0${hex.join("").toUpperCase()}`;
    }
  }

  function collection(makeModel) {
    const byId = new Map();
    const c = model({});
    const keyOf = (id) => (id && typeof id === "object" ? id._serialized : String(id));
    Object.defineProperties(c, {
      modelClass: { value: makeModel },
      get: { value: (id) => byId.get(keyOf(id)) },
      add: { value: (item) => {
        const key = keyOf(item.id);
        if (byId.has(key)) return byId.get(key);
        byId.set(key, item);
        item._parents.push(c);
        c.trigger("add", item, c);
        return item;
      } },
      getModelsArray: { value: () => [...byId.values()] },
      length: { get: () => byId.size },
    });
    return c;
  }

  function MsgModel(attrs) {
    const m = model(attrs);
    Object.defineProperties(m, {
      serialize: { value: () => Object.assign({}, m) },
      unsafe: { value: () => m },
    });
    return m;
  }
  function ChatModel(attrs) {
    const m = model(attrs);
    Object.defineProperty(m, "msgs", { value: collection(MsgModel) });
    Object.defineProperty(m, "serialize", { value: () => Object.assign({}, m) });
    return m;
  }
  const Msg = collection(MsgModel);
  const Chat = collection(ChatModel);
  const Stream = model({ available: false });
  Object.defineProperties(Stream, {
    markAvailable: { value: () => Stream.set("available", true) },
    markUnavailable: { value: () => Stream.set("available", false) },
  });
  const chatFor = (wid) => Chat.get(wid) || Chat.add(new ChatModel({ id: wid, t: 0, unreadCount: 0, archive: false,
                                                                      name: wid.user, isReadOnly: false }));
  // A group the account is in: a chat whose groupMetadata holds its subject and participants, as the real
  // site's Chat collection has every group at load (whatsapp-web.js tells a group by its groupMetadata).
  function addGroup(group) {
    const wid = createWid(group.id);
    if (Chat.get(wid)) return Chat.get(wid);
    const participants = collection((attrs) => model(attrs));
    for (const member of [group.owner, ...group.members]) {
      const p = model({ id: createWid(member), isAdmin: member === group.owner, isSuperAdmin: member === group.owner });
      Object.defineProperty(p, "serialize", { value: () => ({ id: p.id, isAdmin: p.isAdmin, isSuperAdmin: p.isSuperAdmin }) });
      participants.add(p);
    }
    const metadata = model({ id: wid, subject: group.name, owner: createWid(group.owner), creation: group.t,
                             participants, isLidAddressingMode: false, announce: false, restrict: false });
    Object.defineProperty(metadata, "serialize", { value: () => Object.assign({}, metadata, {
      participants: participants.getModelsArray().map((p) => p.serialize()) }) });
    return Chat.add(new ChatModel({ id: wid, t: group.t, unreadCount: 0, archive: false, name: group.name,
                                    formattedTitle: group.name, isReadOnly: false, groupMetadata: metadata }));
  }
  const findLinks = (text) => (typeof text === "string" ? text.match(/\bhttps?:\/\/[^\s]+/g) || [] : [])
    .map((href) => ({ href, url: href, suspiciousCharacters: new Set() }));

  // Sends wait here while the page holds no connection (offline, in conflict): flushed when connected.
  const outbox = new Map(); // key -> {msg, settle}
  function transmit(msg) {
    send({ t: "send", id: msg.id.id, key: msg.id._serialized, to: msg.to._serialized, body: msg.body,
           type: msg.type, ts: msg.t });
  }
  function addAndSendMsgToChat(chat, attrs) {
    const msg = Msg.add(new MsgModel(attrs));
    chat.msgs.add(msg);
    chat.t = msg.t;
    const result = new Promise((settle) => { outbox.set(msg.id._serialized, { msg, settle }); });
    if (Socket.state === "CONNECTED") transmit(msg);
    return [Promise.resolve(msg), result];
  }
  function flushOutbox() {
    for (const { msg } of outbox.values()) transmit(msg);
  }
  function onAck(message) {
    const msg = Msg.get(message.key) || remembered(message);
    if (msg && (message.ack > msg.ack || message.ack < 0)) msg.set("ack", message.ack);
    const waiting = outbox.get(message.key);
    if (waiting && message.ack !== 0) {
      outbox.delete(message.key);
      waiting.settle({ messageSendResult: message.ack > 0 ? "OK" : "ERROR" });
    }
  }
  // An ack of this login's own message the tab does not hold (sent before a reload or a crash): the real
  // site keeps its sent messages in its database, so the message is in the store again (not a new one).
  function remembered(message) {
    const parts = /^true_([^_]+@[^_]+)_([0-9A-Z]+)(?:_([^_]+@[^_]+))?$/.exec(String(message.key || ""));
    if (!parts || parts[2] !== message.id || message.ack < 0) return null;
    const remote = createWid(parts[1]);
    const key = new MsgKey({ fromMe: true, remote, id: message.id, participant: parts[3] });
    const msg = Msg.add(new MsgModel({ id: key, body: "",
                                       type: "chat", t: 0, from: meWid(), to: remote, ack: 0, isNewMsg: false,
                                       self: "out", local: true }));
    chatFor(remote).msgs.add(msg);
    return msg;
  }
  // A message written to the account: in a group, ``from`` is the group and ``author`` the member who wrote
  // it (also the key's participant), as the real site's Msg model has it; media keep the text as the caption.
  function receive(message) {
    const from = createWid(message.from);
    const author = message.author ? createWid(message.author) : undefined;
    const key = new MsgKey({ fromMe: false, remote: from, id: message.id, participant: author });
    if (!Msg.get(key)) {
      const type = message.type || "chat";
      const attrs = { id: key, body: message.body, type, t: message.ts, from, to: meWid(), ack: 1, isNewMsg: true,
                      self: "in", local: false, notifyName: message.name || "" };
      if (author) attrs.author = author;
      if (type !== "chat") {
        Object.assign(attrs, { caption: message.caption || undefined, mimetype: message.mimetype || undefined,
                               mediaKey: "c2ltdWxhdGVk", directPath: `/v/sim/${message.id}` });
      }
      const msg = Msg.add(new MsgModel(attrs));
      chatFor(from).msgs.add(msg);
    }
    send({ t: "receipt", id: message.id }); // only once it is in the collection: the phone may forget it now
  }

  let existsSeq = 0;
  const existsAsked = new Map(); // request number -> resolve
  function queryWidExists(wid) {
    const user = createWid(wid).user;
    if (Socket.state !== "CONNECTED") return Promise.reject(new Error("queryWidExists: not connected"));
    existsSeq += 1;
    const req = existsSeq;
    return new Promise((resolve) => {
      existsAsked.set(req, resolve);
      send({ t: "exists?", req, user });
    });
  }
  function answerExists(message) {
    const resolve = existsAsked.get(message.req);
    if (!resolve) return;
    existsAsked.delete(message.req);
    resolve(message.exists ? { wid: createWid(`${message.user}@c.us`), biz: false } : null);
  }
  const MODULES = {
    WAWebSocketModel: { Socket },
    WAWebConnModel: { Conn },
    WAWebCmd: { Cmd },
    WAWebSignalStoreApi: { waSignalStore: {
      getRegistrationInfo: async () => ({ registrationId: 1, identityKeyPair: { pubKey: bytes(needKeys().identityKey) } }),
    } },
    WAWebCompanionRegClientUtils: {
      waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: bytes(needKeys().staticKey) } }) },
      get DEVICE_PLATFORM() { return keys ? keys.platform : "WEB"; },
    },
    WAWebAdvSignatureApi: { getADVSecretKey: async () => needKeys().advSecretKey },
    WABase64: { encodeB64: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))) },
    WAWebOfflineHandler: { OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 } },
    WAWebAltDeviceLinkingApi: {
      setPairingType: () => {}, initializeAltDeviceLinking: async () => {}, startAltLinkingFlow: async () => "WSIM1234",
    },
    WAWebUserPrefsInfoStore: {},
    WAWebUserPrefsMultiDevice: { getADVSecretKey: () => needKeys().advSecretKey },
    WAWebUserPrefsMeUser: { getMaybeMePnUser: () => meWid(), getMaybeMeLidUser: () => null },
    WAWebMiscBrowserUtils: { info: () => ({ os: "Linux", name: "Chrome" }) },
    // -- messaging ----------------------------------------------------------------------------------
    WAWebCollections: { Msg, Chat },
    WAWebWidFactory: { createWid, asUserWidOrThrow: (wid) => createWid(wid) },
    WAWebFindChatAction: { findOrCreateLatestChat: async (wid) => {
      const found = Chat.get(wid);
      // A person's chat is made on first use; a group is one the account is in, or there is none to open.
      if (!found && createWid(wid).isGroup()) throw new Error(`findOrCreateLatestChat: no group ${createWid(wid)}`);
      return { chat: found || chatFor(createWid(wid)), created: !found };
    } },
    WAWebMsgKey: MsgKey,
    WAWebSendMsgChatAction: { addAndSendMsgToChat },
    WAWebGetEphemeralFieldsMsgActionsUtils: { getEphemeralFields: () => ({}) },
    WAWebChatGetters: {
      getIsNewsletter: (chat) => chat.id.server === "newsletter",
      getIsBroadcast: (chat) => chat.id.server === "broadcast",
      getIsGroup: (chat) => chat.id.server === "g.us",
    },
    WAWebQueryExistsJob: { queryWidExists },
    WALinkify: { findLink: (text) => findLinks(text)[0] || null, findLinks },
    WAWebLinkPreviewChatAction: { getLinkPreview: async () => null }, // no preview: the simulator fetches nothing
    WAWebStreamModel: { Stream },
    WAWebUpdateUnreadChatAction: { sendSeen: async () => {} },
    WAWebSyncGatingUtils: { isPlaceholderMessageResendEnabled: () => false },
    WAWebCallCollection: {}, // no calls on the simulator
  };
  if (VARIANT === "modules") {
    window.Debug = { VERSION: "2.3000.1017054665" }; // the real site's shape: plain numbers
    window.require = (name) => {
      if (!Object.prototype.hasOwnProperty.call(MODULES, name)) throw new Error(`Requiring unknown module "${name}"`);
      return MODULES[name];
    };
  }

  connect();
})();
