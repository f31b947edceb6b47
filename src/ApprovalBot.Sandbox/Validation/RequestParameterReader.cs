using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>Collects the parameters of a Bot API call from the query string and from a JSON, urlencoded or multipart body.</summary>
internal static class RequestParameterReader
{
    public static async Task<Dictionary<string, RawParameter>> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var parameters = new Dictionary<string, RawParameter>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = new RawParameter.Text(value.ToString());
        }

        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType))
        {
            return parameters;
        }

        if (request.HasJsonContentType())
        {
            await ReadJsonAsync(request, parameters, ct).ConfigureAwait(false);
        }
        else if (request.HasFormContentType)
        {
            await ReadFormAsync(request, parameters, ct).ConfigureAwait(false);
        }
        else if (request.ContentLength is not 0)
        {
            throw BotApiException.BadRequest($"unsupported Content-Type {contentType}");
        }

        return parameters;
    }

    private static async Task ReadJsonAsync(HttpRequest request, Dictionary<string, RawParameter> parameters, CancellationToken ct)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, ct).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            throw BotApiException.BadRequest("can't parse JSON body");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw BotApiException.BadRequest("the JSON body must be an object");
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                parameters[property.Name] = new RawParameter.Json(property.Value.Clone());
            }
        }
    }

    private static async Task ReadFormAsync(HttpRequest request, Dictionary<string, RawParameter> parameters, CancellationToken ct)
    {
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(ct).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw BotApiException.BadRequest("can't parse form body: " + e.Message);
        }

        foreach (var (key, value) in form)
        {
            parameters[key] = new RawParameter.Text(value.ToString());
        }

        foreach (var file in form.Files)
        {
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, ct).ConfigureAwait(false);
            parameters[file.Name] = new RawParameter.File(file.FileName, file.ContentType, buffer.ToArray());
        }
    }
}
