using System.Globalization;
using System.Text;

namespace Caldera.Build.Tasks.Models;

/// <summary>
/// The generated class is named by the item's <c>Name</c> and lives in its <c>Namespace</c>, so both must be
/// valid C# (checked here, where the message can name the item, rather than as a compile error in generated code).
/// </summary>
internal static class CSharpNames
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };

    public static bool IsIdentifier(string name) =>
        name.Length > 0 && IsStart(name[0]) && name.All(IsPart) && !Keywords.Contains(name);

    /// <summary>A dotted name (<c>StoryTeller.Models</c>) whose every part is an identifier.</summary>
    public static bool IsNamespace(string name) => name.Split('.').All(IsIdentifier);

    /// <summary>The default class name: the checkpoint's file name with every character C# does not allow replaced by '_'.</summary>
    public static string FromFileName(string fileName)
    {
        var name = new StringBuilder(fileName.Length + 1);
        foreach (char c in fileName) name.Append(IsPart(c) ? c : '_');
        if (name.Length == 0 || !IsStart(name[0])) name.Insert(0, '_');
        string result = name.ToString();
        return Keywords.Contains(result) ? "_" + result : result;
    }

    /// <summary>The default namespace: <c>$(RootNamespace)</c> (the project name, e.g. <c>my-app</c>) made valid, part by part.</summary>
    public static string NamespaceFrom(string rootNamespace) =>
        string.Join('.', rootNamespace.Split('.').Select(part => IsIdentifier(part) ? part : FromFileName(part)));

    private static bool IsStart(char c) => c == '_' || char.IsLetter(c);

    private static bool IsPart(char c) => c == '_' || char.IsLetterOrDigit(c)
        || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark;
}
