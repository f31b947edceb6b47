using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace ApprovalBot.Sandbox.Http;

/// <summary>
/// A page at / that plays Telegram for a person trying ApprovalBot without a bot token: it shows the
/// approver's private chat, presses buttons as the approver and sends commands. Plain HTML and a little
/// inline JS that long-polls the transcript endpoint.
/// </summary>
internal static class HumanPage
{
    public static Task WriteAsync(HttpContext context, SandboxControl control)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        var html = Template
            .Replace("{{CHAT}}", control.PrivateChatId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{APPROVER}}", control.ApproverId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{STRANGER}}", control.StrangerId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{BOT}}", WebUtility.HtmlEncode(control.BotUsername), StringComparison.Ordinal);
        return context.Response.WriteAsync(html);
    }

    private const string Template = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>ApprovalBot sandbox</title>
        <style>
          body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 1rem auto; background: #e7ebf0; }
          h1 { font-size: 1.1rem; }
          #chat { display: flex; flex-direction: column; gap: .5rem; }
          .msg { background: #fff; border-radius: .6rem; padding: .5rem .7rem; max-width: 85%; white-space: pre-wrap; word-wrap: break-word; }
          .msg.user { align-self: flex-end; background: #d9fdd3; }
          .meta { font-size: .75rem; color: #667; margin-bottom: .2rem; }
          .meta button { font-size: .7rem; margin-left: .4rem; border: none; background: none; color: #a44; cursor: pointer; padding: 0; }
          .row { display: flex; gap: .3rem; margin-top: .3rem; }
          .row button, .row a { flex: 1; padding: .35rem; border: 1px solid #9ab; border-radius: .4rem; background: #f4f8fb; cursor: pointer; text-align: center; }
          #toast { position: fixed; top: 1rem; left: 50%; transform: translateX(-50%); background: #333; color: #fff; padding: .5rem 1rem; border-radius: .5rem; display: none; }
          form { display: flex; gap: .4rem; margin-top: 1rem; }
          form input[type=text] { flex: 1; padding: .4rem; }
        </style>
        </head>
        <body>
        <h1>Private chat with @{{BOT}} (sandbox)</h1>
        <div id="chat"></div>
        <form id="send">
          <select id="as"><option value="{{APPROVER}}">as approver</option><option value="{{STRANGER}}">as stranger</option></select>
          <input type="text" id="text" placeholder="/pending, /help, …" autocomplete="off">
          <button>Send</button>
        </form>
        <div id="toast"></div>
        <script>
        const chatId = {{CHAT}};
        let version = -1;
        const post = (url, body) => fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        function toast(text) {
          const t = document.getElementById("toast");
          t.textContent = text; t.style.display = "block";
          setTimeout(() => t.style.display = "none", 3000);
        }
        async function press(messageId, data) {
          const r = await post("/sandbox/press", { message_id: messageId, callback_data: data, from_user_id: Number(document.getElementById("as").value), chat_id: chatId });
          const pressed = await r.json();
          if (!r.ok) { toast(pressed.error); return; }
          const a = await fetch(`/sandbox/callback-answers/${pressed.query_id}?wait_ms=15000`);
          if (a.ok) { const answer = await a.json(); if (answer.text) { answer.show_alert ? alert(answer.text) : toast(answer.text); } }
        }
        async function remove(messageId) {
          const r = await fetch(`/sandbox/chats/${chatId}/messages/${messageId}`, { method: "DELETE" });
          if (!r.ok) toast((await r.json()).error);
        }
        function render(view) {
          const chat = document.getElementById("chat");
          chat.replaceChildren();
          for (const m of view.messages) {
            const div = document.createElement("div");
            div.className = "msg" + (m.from_bot ? "" : " user");
            const meta = document.createElement("div");
            meta.className = "meta";
            meta.textContent = `${m.from} · #${m.message_id} · ${new Date(m.date).toLocaleTimeString()}${m.edit_count ? " · edited" : ""}`;
            const del = document.createElement("button");
            del.textContent = "delete"; del.title = "delete it as a chat admin would (the bot is not told)";
            del.onclick = () => remove(m.message_id);
            meta.append(del);
            div.append(meta);
            if (m.document) {
              const link = document.createElement("a");
              link.href = `/sandbox/files/${encodeURIComponent(m.document.file_id)}`;
              link.textContent = `📄 ${m.document.file_name} (${m.document.size} bytes)`;
              div.append(link, document.createElement("br"));
            }
            div.append(document.createTextNode(m.text ?? m.caption ?? ""));
            for (const row of m.buttons) {
              const r = document.createElement("div");
              r.className = "row";
              for (const b of row) {
                let el;
                if (b.callback_data != null) {
                  el = document.createElement("button");
                  el.onclick = () => press(m.message_id, b.callback_data);
                } else {
                  el = document.createElement("a");
                  el.href = b.url ?? "#"; el.target = "_blank"; el.rel = "noopener";
                }
                el.textContent = b.text;
                r.append(el);
              }
              div.append(r);
            }
            chat.append(div);
          }
          window.scrollTo(0, document.body.scrollHeight);
        }
        async function watch() {
          for (;;) {
            try {
              const r = await fetch(`/sandbox/chats/${chatId}/transcript?after_version=${version}&wait_ms=25000`);
              const view = await r.json();
              if (view.version !== version) { version = view.version; render(view); }
            } catch { await new Promise(ok => setTimeout(ok, 2000)); }
          }
        }
        document.getElementById("send").onsubmit = async e => {
          e.preventDefault();
          const input = document.getElementById("text");
          if (!input.value) return;
          const r = await post("/sandbox/send", { text: input.value, from_user_id: Number(document.getElementById("as").value), chat_id: chatId });
          if (!r.ok) toast((await r.json()).error); else input.value = "";
        };
        watch();
        </script>
        </body>
        </html>
        """;
}
