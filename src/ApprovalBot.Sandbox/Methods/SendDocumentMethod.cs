using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Formatting;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class SendDocumentMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "sendDocument";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var chat = State.ChatForBot(call.ChatId());
        var document = Document(call);
        var parseMode = call.String("parse_mode");
        var source = call.String("caption");
        var caption = MessageTextParser.ParseCaption(source, parseMode);
        TakeSendSlot(chat);

        State.Files[document.FileId] = document;
        var now = State.Now;
        var version = new StoredVersion(Name, now, null, source, parseMode, caption, ReplyMarkup(call));
        var message = new StoredMessage(chat, chat.NextMessageId(), State.Bot, now, version, document);
        chat.Messages.Add(message);
        return message.ToJson();
    }

    private StoredDocument Document(ValidatedCall call)
    {
        if (call.File("document") is { } upload)
        {
            return upload.Content.Length == 0
                ? throw BotApiException.BadRequest("file must be non-empty")
                : new StoredDocument(NewFileId(), NewFileId()[..16], upload.FileName, upload.ContentType, upload.Content);
        }

        var reference = call.String("document")!;
        if (State.Files.TryGetValue(reference, out var known))
        {
            return known;
        }

        // The sandbox never fetches from the Internet: a URL becomes an empty document named after its path.
        if (Uri.TryCreate(reference, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
        {
            var name = Path.GetFileName(url.AbsolutePath);
            return new StoredDocument(NewFileId(), NewFileId()[..16], name.Length > 0 ? name : "file", null, []);
        }

        throw BotApiException.BadRequest("wrong file identifier/HTTP URL specified");
    }

    private static string NewFileId() =>
        "BQAC" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)).Replace('+', '-').Replace('/', '_');
}
