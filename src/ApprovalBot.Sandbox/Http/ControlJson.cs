using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace ApprovalBot.Sandbox.Http;

/// <summary>JSON for /sandbox/: snake_case like the Bot API, so one naming style serves both surfaces.</summary>
internal static class ControlJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Task WriteAsync<T>(HttpContext context, T value, int status = 200)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, Options);
    }

    public static Task WriteErrorAsync(HttpContext context, int status, string error) =>
        WriteAsync(context, new { error }, status);

    public static async Task<T> ReadAsync<T>(HttpContext context)
    {
        try
        {
            return await context.Request.ReadFromJsonAsync<T>(Options, context.RequestAborted).ConfigureAwait(false)
                ?? throw new ArgumentException("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException("The request body is not valid JSON for this endpoint: " + e.Message, e);
        }
    }
}
