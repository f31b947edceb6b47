using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

internal sealed record StoredDocument(string FileId, string FileUniqueId, string FileName, string? MimeType, byte[] Content)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["file_id"] = FileId, ["file_unique_id"] = FileUniqueId, ["file_name"] = FileName };
        if (MimeType is not null)
        {
            json["mime_type"] = MimeType;
        }

        json["file_size"] = Content.Length;
        return json;
    }

    public SentDocument ToPublic() => new(FileId, FileName, MimeType, Content);
}
