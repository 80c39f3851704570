using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Turns a chat into prompt ids. A Llama 3 tokenizer (one that knows the header and end-of-turn markers as single
/// special tokens) gets Llama 3's chat template, which starts with its own BOS. A model without a chat template (a
/// story model such as stories260K) is a plain continuation model: its prompt is BOS + the user messages' text,
/// joined by newlines; system and assistant turns are left out, since such a model was never trained on them.
/// </summary>
internal static class ChatPrompt
{
    public static bool HasLlama3Template(ModelTokenizer tokenizer)
    {
        foreach (string marker in (ReadOnlySpan<string>)[Llama3ChatTemplate.BeginOfText, Llama3ChatTemplate.StartHeader, Llama3ChatTemplate.EndHeader, Llama3ChatTemplate.EndOfTurn])
            if (tokenizer.Encode(marker, addBos: false).Length != 1) return false;
        return true;
    }

    public static int[] Encode(ModelTokenizer tokenizer, bool llama3, IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (!llama3)
            return tokenizer.Encode(string.Join("\n", messages.Where(m => m.Role == ChatRole.User).Select(m => m.Text)), addBos: true);
        return tokenizer.Encode(Llama3ChatTemplate.Render(messages), addBos: false);
    }
}
