using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
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

    /// <summary>
    /// Reads the body as <typeparamref name="T"/>, refusing a field it does not take: a mistyped from_user_id would
    /// otherwise press or send as the approver, the default, as if it were right.
    /// </summary>
    public static async Task<T> ReadAsync<T>(HttpContext context)
    {
        try
        {
            var body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false) as JsonObject
                ?? throw new ArgumentException("The request body must be a JSON object.");
            var typeInfo = (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
            var unknown = body.Select(p => p.Key)
                .Where(name => !typeInfo.Properties.Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)))
                .ToList();
            if (unknown.Count > 0)
            {
                throw new ArgumentException($"The request body has a field this endpoint does not take: {string.Join(", ", unknown)}.");
            }
            return body.Deserialize(typeInfo) ?? throw new ArgumentException("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException("The request body is not valid JSON for this endpoint: " + e.Message, e);
        }
    }
}
