using Caldera.Runtime.Formats;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// CalderaModel, the base of generated model classes: it loads only the model it was generated for, generates the
/// same text as the runtime's TextGenerator, and as an IChatClient honours ChatOptions and cancellation.
/// </summary>
public class CalderaModelTests
{
    private static readonly CalderaModelOptions FromFile = new() { ModelPath = CompressedStories.Path, Threads = 1 };

    private static GenerationOptions Greedy(int maxOutputTokens) => new() { MaxOutputTokens = maxOutputTokens, Sampling = new SamplingOptions { Temperature = 0 } };

    [Fact]
    public void Generate_gives_the_runtimes_greedy_text()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var reference = LoadedModel.Open(CompressedStories.Path);
        // A generated class decodes with int8 arithmetic and the 6-bit classifier unless CalderaModelOptions.Int8Arithmetic is off.
        using var transformer = reference.CreateTransformer(new TransformerOptions
        {
            Threads = 1, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6,
        });
        string expected = new TextGenerator(transformer, reference.EmbeddedTokenizer()!).GenerateText("Once upon a time", Greedy(60));

        Assert.Equal(expected, string.Concat(model.Generate("Once upon a time", Greedy(60))));
        Assert.True(expected.Length > 100, expected);
        Assert.Equal(35, model.KernelRequests); // every compressed matrix asked the generated-kernel seam
        Assert.Equal(reference.Config, model.Config);
        Assert.Equal(CompressedStories.Path, model.SourcePath);
    }

    [Fact]
    public void Turning_generated_kernels_off_bypasses_the_seam()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { UseGeneratedKernels = false });
        using var transformer = model.CreateTransformer();
        Assert.Equal(0, model.KernelRequests);
    }

    [Fact]
    public void A_model_that_is_not_the_generated_one_is_refused_at_load()
    {
        var description = TestModel.Describe(CompressedStories.Path);
        var e = Assert.Throws<ModelFormatException>(() => TestModel.Load(description with { Checksum = description.Checksum ^ 1 }, FromFile));
        Assert.Contains("is not the model class Stories was generated for", e.Message);
        Assert.Contains("rebuild the app", e.Message);

        e = Assert.Throws<ModelFormatException>(() => TestModel.Load(description with { HiddenDim = 176 }, FromFile));
        Assert.Contains("setting 'hidden_dim': is 172 but class Stories was generated for 176", e.Message);

        var shapes = description.Matrices.ToArray();
        shapes[2] = shapes[2] with { Rank = 8 };
        e = Assert.Throws<ModelFormatException>(() => TestModel.Load(description with { Matrices = shapes }, FromFile));
        Assert.Contains($"tensor '{shapes[2].Name}': is 32×64 rank 16 but class Stories was generated for 32×64 rank 8", e.Message);
    }

    [Fact]
    public void A_missing_resource_or_trailer_is_a_clear_error()
    {
        var description = TestModel.Describe(CompressedStories.Path) with { ResourceName = "Nope.cald" };
        var e = Assert.Throws<ModelFormatException>(() => TestModel.Load(description));
        Assert.Equal("resource Nope.cald in Caldera.Runtime.Tests", e.FilePath);
        Assert.Contains("is missing: the build did not embed model Stories", e.Message);

        e = Assert.Throws<ModelFormatException>(() => TestModel.Load(description with { Storage = CalderaStorage.Trailer, Name = "NotAppended", FileName = "NotAppended.cald" }));
        Assert.Contains("model NotAppended is neither in the executable's trailer nor in", e.Message);
        Assert.Contains("copy NotAppended.cald beside the app", e.Message);
    }

    [Fact]
    public async Task Chat_response_is_the_greedy_continuation_of_the_user_text()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        IChatClient client = model;
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 20 };
        var response = await client.GetResponseAsync([new(ChatRole.System, "ignored by a story model"), new(ChatRole.User, "Once upon a time")], options);

        int promptTokens = model.Tokenizer.Encode("Once upon a time").Length;
        string expected = string.Concat(model.Generate("Once upon a time", Greedy(20)));
        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(promptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(20, response.Usage.OutputTokenCount);
        Assert.Equal("TestModel", response.ModelId);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")], options)) updates.Add(update);
        Assert.Equal(expected, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 3);
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.Equal(20, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_response_before_it()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string full = (await model.GetResponseAsync([new(ChatRole.User, "Once upon a time")], new ChatOptions { Temperature = 0, MaxOutputTokens = 60 })).Text;
        string stop = full.Substring(full.Length / 2, 4);
        var response = await model.GetResponseAsync([new(ChatRole.User, "Once upon a time")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 60, StopSequences = ["never appears", stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Seeded_sampling_repeats_and_cancellation_stops()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        var options = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, TopK = 40, Seed = 42, MaxOutputTokens = 40 };
        ChatMessage[] chat = [new(ChatRole.User, "Once upon a time")];
        string first = (await model.GetResponseAsync(chat, options)).Text;
        Assert.Equal(first, (await model.GetResponseAsync(chat, options)).Text);
        var otherSeed = options.Clone();
        otherSeed.Seed = 7;
        Assert.NotEqual(first, (await model.GetResponseAsync(chat, otherSeed)).Text);

        using var cancel = new CancellationTokenSource();
        var pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in model.GetStreamingResponseAsync(chat, new ChatOptions { MaxOutputTokens = 200 }, cancel.Token))
                if (++pieces == 3) cancel.Cancel();
        });
        Assert.Equal(3, pieces);
        Assert.Equal(model, model.GetService(typeof(CalderaModel)));
        Assert.Equal("TestModel", ((ChatClientMetadata)model.GetService(typeof(ChatClientMetadata))!).DefaultModelId);
    }

    [Fact]
    public void Only_a_Llama3_tokenizer_gets_the_Llama3_chat_template()
    {
        var llama3 = global::Caldera.Runtime.Tokenization.ModelTokenizer.Load(TestModels.Llama3TokenizerJson);
        var tok512 = global::Caldera.Runtime.Tokenization.ModelTokenizer.Load(TestModels.Tok512Model);
        Assert.True(ChatPrompt.HasLlama3Template(llama3));
        Assert.False(ChatPrompt.HasLlama3Template(tok512));

        ChatMessage[] chat = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi")];
        int[] ids = ChatPrompt.Encode(llama3, llama3: true, chat);
        Assert.Equal(llama3.Encode(Llama3ChatTemplate.Render(chat), addBos: false), ids);
        Assert.Equal(llama3.BosId, ids[0]);
        Assert.Equal(tok512.Encode("Hi"), ChatPrompt.Encode(tok512, llama3: false, chat));
    }
}
