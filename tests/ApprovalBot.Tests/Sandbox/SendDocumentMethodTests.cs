using System.Net.Http.Headers;
using System.Text;

namespace ApprovalBot.Tests.Sandbox;

public sealed class SendDocumentMethodTests : SandboxTestBase
{
    private Task<BotReply> UploadAsync(MultipartFormDataContent form) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath("sendDocument")) { Content = form });

    [Fact]
    public async Task SendDocument_MultipartUpload_StoresNameAndBytes()
    {
        var bytes = Encoding.UTF8.GetBytes("the full draft text");
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new StringContent("<i>full text</i>"), "caption" },
            { new StringContent("HTML"), "parse_mode" },
            { file, "document", "draft.txt" },
        };

        var reply = await UploadAsync(form);

        Assert.True(reply.Ok, reply.ToString());
        var document = reply.Result.GetProperty("document");
        Assert.Equal("draft.txt", document.GetProperty("file_name").GetString());
        Assert.Equal(bytes.Length, document.GetProperty("file_size").GetInt32());
        Assert.Equal("full text", reply.Result.GetProperty("caption").GetString());

        var sent = Assert.Single(Control.GetMessages());
        Assert.Equal("draft.txt", sent.Document!.FileName);
        Assert.Equal(bytes, sent.Document.Content);
        Assert.Equal("text/plain", sent.Document.MimeType);
        Assert.Equal("full text", sent.Caption);
    }

    [Fact]
    public async Task SendDocument_AttachReference_UsesTheNamedPart()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new StringContent("attach://file0"), "document" },
            { new ByteArrayContent([1, 2, 3]), "file0", "x.bin" },
        };

        var reply = await UploadAsync(form);

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal([1, 2, 3], Control.GetMessages().Single().Document!.Content);
    }

    [Fact]
    public async Task SendDocument_KnownFileId_ResendsTheSameFile()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new ByteArrayContent([7]), "document", "seven.bin" },
        };
        var first = await UploadAsync(form);
        var fileId = first.Result.GetProperty("document").GetProperty("file_id").GetString();

        var again = await CallAsync("sendDocument", new { chat_id = ChatId, document = fileId });

        Assert.True(again.Ok, again.ToString());
        Assert.Equal("seven.bin", Control.GetMessages()[1].Document!.FileName);
    }

    [Fact]
    public async Task SendDocument_UnknownFileId_AnswersWrongFileIdentifier()
    {
        var reply = await CallAsync("sendDocument", new { chat_id = ChatId, document = "no-such-file" });

        Assert.Equal("Bad Request: wrong file identifier/HTTP URL specified", reply.Description);
    }

    [Fact]
    public async Task SendDocument_FilePartUnderAnotherName_AnswersUnknownParameter()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new StringContent("doc-id"), "document" },
            { new ByteArrayContent([1]), "attachment", "x.bin" },
        };

        var reply = await UploadAsync(form);

        Assert.Equal("Bad Request: unknown parameter attachment", reply.Description);
    }

    [Fact]
    public async Task SendDocument_FileInAJsonBody_IsRefused()
    {
        var reply = await CallJsonAsync("sendDocument", """{"chat_id":1001,"document":{"name":"x"}}""");

        Assert.Equal(400, reply.ErrorCode);
    }
}
