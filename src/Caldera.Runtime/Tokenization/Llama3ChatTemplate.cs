using System.Text;
using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Llama 3's chat prompt, as the Jinja <c>chat_template</c> of its <c>tokenizer_config.json</c> renders it:
/// <c>&lt;|begin_of_text|&gt;</c>, then per message
/// <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n</c> + content (trimmed) + <c>&lt;|eot_id|&gt;</c>,
/// then, to have the model answer, <c>&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c>.
/// </summary>
/// <remarks>
/// The markers are special tokens: encode the prompt with <c>addBos: false</c> (it already starts with
/// BOS) and the tokenizer turns each marker into its single id. Text inside a message that spells a marker
/// is encoded as that marker too, exactly as Hugging Face's tokenizer does with this template.
/// </remarks>
internal static class Llama3ChatTemplate
{
    public const string BeginOfText = "<|begin_of_text|>";
    public const string StartHeader = "<|start_header_id|>";
    public const string EndHeader = "<|end_header_id|>";
    public const string EndOfTurn = "<|eot_id|>";

    /// <summary>The prompt for <paramref name="messages"/>; <paramref name="addGenerationPrompt"/> opens the assistant's turn.</summary>
    public static string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = new StringBuilder(BeginOfText);
        foreach (var message in messages)
            AppendHeader(prompt, message.Role).Append(message.Text.Trim()).Append(EndOfTurn);
        if (addGenerationPrompt) AppendHeader(prompt, ChatRole.Assistant);
        return prompt.ToString();
    }

    private static StringBuilder AppendHeader(StringBuilder prompt, ChatRole role) =>
        prompt.Append(StartHeader).Append(RoleName(role)).Append(EndHeader).Append("\n\n");

    private static string RoleName(ChatRole role) =>
        role == ChatRole.System || role == ChatRole.User || role == ChatRole.Assistant ? role.Value
        : throw new ArgumentException($"chat role '{role}' is not supported; use system, user or assistant messages", nameof(role));
}
