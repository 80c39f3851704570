using System.Text.Json;
using System.Text.RegularExpressions;
using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tests.Tokenization;

public class Llama3ChatTemplateTests
{
    private const int BeginOfText = 128000, StartHeader = 128006, EndHeader = 128007, EndOfTurn = 128009;
    private const int System = 9125, User = 882, Assistant = 78191, TwoNewlines = 271;

    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are a helpful assistant."),
        new(ChatRole.User, "  Bonjour ! Qu'est-ce que « 日本語 » ? 😀\n"),
        new(ChatRole.Assistant, "It means Japanese."),
        new(ChatRole.User, "Thanks."),
    ];

    [Fact]
    public void Render_writes_the_Llama3_prompt()
    {
        string expected =
            "<|begin_of_text|>" +
            "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nBonjour ! Qu'est-ce que « 日本語 » ? 😀<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nIt means Japanese.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nThanks.<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, Llama3ChatTemplate.Render(Conversation));
        Assert.Equal(expected[..^"<|start_header_id|>assistant<|end_header_id|>\n\n".Length],
            Llama3ChatTemplate.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_is_built_from_the_literals_of_the_Jinja_template_in_tokenizer_config()
    {
        using var config = JsonDocument.Parse(File.ReadAllBytes(TokenizerFiles.Llama3Config));
        string template = config.RootElement.GetProperty("chat_template").GetString()!;
        string bos = config.RootElement.GetProperty("bos_token").GetString()!;
        // The template's string literals in order: header start, 'role', header end, 'content', end of turn,
        // generation prompt. It trims the content and puts bos_token before the first message.
        string[] literals = [.. Regex.Matches(template, "'([^']*)'").Select(m => m.Groups[1].Value.Replace("\\n", "\n"))];
        Assert.Equal(["<|start_header_id|>", "role", "<|end_header_id|>\n\n", "content", "<|eot_id|>",
            "<|start_header_id|>assistant<|end_header_id|>\n\n"], literals);
        Assert.Contains("message['content'] | trim", template);
        Assert.Contains("{% if loop.index0 == 0 %}{% set content = bos_token + content %}", template);

        string expected = bos;
        foreach (var m in Conversation)
            expected += literals[0] + m.Role.ToString().ToLowerInvariant() + literals[2] + m.Text.Trim() + literals[4];
        expected += literals[5];
        Assert.Equal(expected, Llama3ChatTemplate.Render(Conversation));
    }

    [Fact]
    public void Encoded_prompt_has_special_token_ids_not_text_pieces()
    {
        var llama3 = TokenizerFiles.Llama3;
        ChatMessage[] chat = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi there!")];
        int[] ids = llama3.Encode(Llama3ChatTemplate.Render(chat), addBos: false);

        int[] expected =
        [
            BeginOfText,
            StartHeader, System, EndHeader, TwoNewlines, .. llama3.Encode("Be brief.", addBos: false), EndOfTurn,
            StartHeader, User, EndHeader, TwoNewlines, .. llama3.Encode("Hi there!", addBos: false), EndOfTurn,
            StartHeader, Assistant, EndHeader, TwoNewlines,
        ];
        Assert.Equal(expected, ids);
        Assert.Equal(Llama3ChatTemplate.Render(chat), llama3.Decode(ids));
    }
}
