using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Caldera.Common;

/// <summary>
/// Whether a name can be the generated model class's name or namespace, one rule for the MSBuild task (which checks
/// item metadata), <c>caldera describe</c> and the source generator. Compiled for netstandard2.0 too (the generator).
/// </summary>
/// <remarks>
/// An identifier as C# defines it (spec §6.4.3): a letter (Lu, Ll, Lt, Lm, Lo, Nl) or '_', then letters, decimal
/// digits (Nd), connectors (Pc), combining marks (Mn, Mc) or formatting characters (Cf); no '@' prefix. Stricter
/// than C#: contextual keywords are refused as well as reserved ones, because a class named <c>record</c>,
/// <c>required</c> or <c>file</c> does not compile, and one named <c>var</c> or <c>dynamic</c> changes the meaning
/// of the code around it.
/// </remarks>
internal static class CSharpNames
{
    private static readonly HashSet<string> Keywords = new(System.StringComparer.Ordinal)
    {
        // Reserved keywords, including the undocumented ones Roslyn reserves.
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
        "__arglist", "__makeref", "__reftype", "__refvalue",
        // Contextual keywords.
        "add", "alias", "allows", "and", "ascending", "args", "async", "await", "by", "descending", "dynamic",
        "equals", "extension", "field", "file", "from", "get", "global", "group", "init", "into", "join", "let",
        "managed", "nameof", "nint", "not", "notnull", "nuint", "on", "or", "orderby", "partial", "record", "remove",
        "required", "scoped", "select", "set", "unmanaged", "value", "var", "when", "where", "with", "yield",
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
        string.Join(".", rootNamespace.Split('.').Select(part => IsIdentifier(part) ? part : FromFileName(part)));

    private static bool IsStart(char c) => c == '_' || IsLetter(CharUnicodeInfo.GetUnicodeCategory(c));

    private static bool IsPart(char c)
    {
        var category = CharUnicodeInfo.GetUnicodeCategory(c);
        return IsLetter(category) || category is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation
            or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.Format;
    }

    private static bool IsLetter(UnicodeCategory category) => category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;
}
