using Caldera.Common;
using Microsoft.CodeAnalysis.CSharp;

namespace Caldera.Build.Tests;

/// <summary>The shared name rule against Roslyn's: never accepts what C# refuses, and differs only by refusing contextual keywords.</summary>
public class CSharpNamesTests
{
    [Fact]
    public void Every_character_is_judged_as_Roslyn_judges_it_at_the_start_and_inside_a_name()
    {
        for (int c = 0; c <= char.MaxValue; c++)
        {
            string start = ((char)c).ToString(), inside = "A" + (char)c;
            Assert.True(SyntaxFacts.IsValidIdentifier(start) == CSharpNames.IsIdentifier(start) || SyntaxFacts.GetKeywordKind(start) != SyntaxKind.None, $"U+{c:X4} first");
            Assert.True(SyntaxFacts.IsValidIdentifier(inside) == CSharpNames.IsIdentifier(inside), $"U+{c:X4} inside");
        }
    }

    [Fact]
    public void Reserved_and_contextual_keywords_are_refused()
    {
        // Attribute targets (type, method, …) are keywords only inside [target: …], never in a name.
        var keywords = SyntaxFacts.GetKeywordKinds().Concat(SyntaxFacts.GetContextualKeywordKinds())
            .Where(kind => !SyntaxFacts.IsAttributeTargetSpecifier(kind)).Select(SyntaxFacts.GetText).Where(SyntaxFacts.IsValidIdentifier).ToList();
        Assert.All(keywords, keyword => Assert.False(CSharpNames.IsIdentifier(keyword), keyword));
        Assert.All(keywords, keyword => Assert.True(CSharpNames.IsIdentifier("_" + keyword), keyword));
    }

    [Theory]
    [InlineData("StoryTeller.Models", true)]
    [InlineData("Story_2.Ünïcode", true)]
    [InlineData("StoryTeller..Models", false)]
    [InlineData("StoryTeller.class", false)]
    [InlineData("@Stories", false)]
    [InlineData("", false)]
    public void A_namespace_is_identifiers_joined_by_dots(string name, bool valid) => Assert.Equal(valid, CSharpNames.IsNamespace(name));

    [Theory]
    [InlineData("stories15M", "stories15M")]
    [InlineData("my-model.v2", "my_model_v2")]
    [InlineData("3d", "_3d")]
    [InlineData("record", "_record")]
    public void A_file_name_becomes_a_valid_class_name(string fileName, string name)
    {
        Assert.Equal(name, CSharpNames.FromFileName(fileName));
        Assert.True(CSharpNames.IsIdentifier(name));
    }
}
