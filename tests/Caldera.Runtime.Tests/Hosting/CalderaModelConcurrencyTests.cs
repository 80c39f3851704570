using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>No public call on a model can wait forever: one generation at a time, a second one on the same thread fails fast.</summary>
public class CalderaModelConcurrencyTests
{
    private static readonly CalderaModelOptions FromFile = new() { ModelPath = CompressedStories.Path, Threads = 1 };

    /// <summary>Far above the ~1 s these take; a deadlock is caught by this bound instead of hanging the test run.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static GenerationOptions Greedy(int n) => new() { MaxOutputTokens = n, Sampling = new SamplingOptions { Temperature = 0 } };

    [Fact]
    public async Task Two_generate_enumerators_advanced_in_turn_on_one_thread_throw_instead_of_blocking()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        var zip = Task.Run(() => model.Generate("Once upon a time", Greedy(10)).Zip(model.Generate("The dog", Greedy(10))).ToList());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => zip.WaitAsync(Bound)); // a TimeoutException if it blocks
        Assert.Contains("a Generate enumeration of this model is still open on this thread", e.Message);

        // The first enumerator was disposed by Zip: the model is free again.
        Assert.NotEmpty(string.Concat(model.Generate("Once upon a time", Greedy(10))));
    }

    [Fact]
    public async Task Generations_on_two_threads_take_turns_and_both_finish()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string expected = string.Concat(model.Generate("Once upon a time", Greedy(30)));
        var runs = Enumerable.Range(0, 2).Select(_ => Task.Run(() => string.Concat(model.Generate("Once upon a time", Greedy(30))))).ToArray();
        string[] texts = await Task.WhenAll(runs).WaitAsync(Bound);
        Assert.All(texts, t => Assert.Equal(expected, t));
    }

    [Fact]
    public async Task Dispose_with_a_generation_still_open_returns_and_the_generation_then_stops()
    {
        var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var open = model.Generate("Once upon a time", Greedy(50)).GetEnumerator();
        Assert.True(open.MoveNext());
        await Task.Run(model.Dispose).WaitAsync(Bound); // a TimeoutException if Dispose blocks on the open enumerator
        Assert.Throws<ObjectDisposedException>(() => open.MoveNext());
        Assert.Throws<ObjectDisposedException>(() => model.Generate("Once", Greedy(5)).ToList());
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(2, null)]
    [InlineData(7, null)]
    [InlineData(20, null)]
    [InlineData(600, null)] // past the 512-token context: both stop where the context ends
    [InlineData(20, 12)] // a context the model options shorten
    public async Task The_chat_response_has_every_token_generate_gives(int maxOutputTokens, int? contextLength)
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { ContextLength = contextLength });
        string generated = string.Concat(model.Generate("Once upon a time", Greedy(maxOutputTokens)));
        var response = await model.GetResponseAsync([new(ChatRole.User, "Once upon a time")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = maxOutputTokens });
        Assert.Equal(generated, response.Text);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in model.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = maxOutputTokens })) updates.Add(update);
        Assert.Equal(generated, string.Concat(updates.Select(u => u.Text)));
    }
}
