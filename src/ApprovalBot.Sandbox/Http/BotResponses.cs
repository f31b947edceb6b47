using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ApprovalBot.Sandbox.Http;

/// <summary>Telegram's response envelope; the HTTP status always equals error_code.</summary>
internal static class BotResponses
{
    // Readable descriptions ("can't", "&") in curl output; the body is never embedded in HTML.
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task WriteOkAsync(HttpResponse response, JsonNode result) =>
        WriteAsync(response, 200, new JsonObject { ["ok"] = true, ["result"] = result });

    public static Task WriteErrorAsync(HttpResponse response, BotApiException error)
    {
        var body = new JsonObject { ["ok"] = false, ["error_code"] = error.ErrorCode, ["description"] = error.Description };
        if (error.RetryAfter is { } retryAfter)
        {
            body["parameters"] = new JsonObject { ["retry_after"] = retryAfter };
        }
        else if (error.MigrateToChatId is { } migrateTo)
        {
            body["parameters"] = new JsonObject { ["migrate_to_chat_id"] = migrateTo };
        }

        return WriteAsync(response, error.ErrorCode, body);
    }

    private static Task WriteAsync(HttpResponse response, int status, JsonObject body)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        return response.WriteAsync(body.ToJsonString(Json));
    }
}
