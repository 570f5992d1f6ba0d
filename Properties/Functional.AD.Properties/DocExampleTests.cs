using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The API site's promise: every public member has a summary (CS1591 is an error in the packed projects, so the build
/// enforces it) and every public type, the entry points (Ad, Np, Lax, Tree, Optim, Rng, PrngKey, GradCheck, Gens, ...)
/// among them, shows an example in its XML docs (a nested type is covered by the type that holds it).
/// </summary>
public sealed class DocExampleTests
{
    static XDocument DocsOf(Assembly a)
    {
        var xml = Path.ChangeExtension(a.Location, ".xml");
        Assert.True(File.Exists(xml), $"{xml} is missing: GenerateDocumentationFile must stay on for {a.GetName().Name}");
        return XDocument.Load(xml);
    }

    [Theory]
    [InlineData("Functional.AD")]
    [InlineData("Functional.AD.Testing")]
    public void Every_public_type_has_an_example(string assembly)
    {
        var a = Assembly.Load(assembly);
        var docs = DocsOf(a);
        var members = docs.Descendants("member").ToDictionary(m => (string)m.Attribute("name")!, m => m);
        bool HasExample(string id) => members.TryGetValue(id, out var m) && (m.Descendants("example").Any() || m.Descendants("code").Any());
        var entryPoints = a.GetExportedTypes().Where(t => !t.IsNested).ToArray();
        Assert.NotEmpty(entryPoints);
        var missing = entryPoints
            .Where(t => !HasExample("T:" + t.FullName!))
            .Select(t => t.FullName)
            .ToArray();
        Assert.True(missing.Length == 0, $"public types without an <example> or <code> in their XML docs: {string.Join(", ", missing)}");
    }

    // "M:Functional.AD.Tree.Save``1(System.String,``0)" is declared in Functional.AD.Tree; internal types (and the
    // regex code the compiler generates in them) are not part of the API the site documents
    static bool DeclaredInPublicType(Assembly a, string id)
    {
        var name = id[2..];
        int paren = name.IndexOf('(');
        if (paren >= 0) name = name[..paren];
        if (!id.StartsWith("T:", StringComparison.Ordinal)) name = name[..name.LastIndexOf('.')];
        var t = a.GetType(name) ?? a.GetType(ReplaceLastDot(name));
        return t is null ? true : t.IsVisible;
    }

    static string ReplaceLastDot(string s) => s.LastIndexOf('.') is var i and >= 0 ? s[..i] + "+" + s[(i + 1)..] : s;

    [Fact]
    public void Every_public_member_has_a_summary()
    {
        foreach (var a in new[] { typeof(Tree).Assembly, typeof(Functional.AD.Testing.Gens).Assembly })
        {
            var docs = DocsOf(a);
            var empty = docs.Descendants("member")
                .Where(m => DeclaredInPublicType(a, (string)m.Attribute("name")!))
                .Where(m => !m.Elements("summary").Any(s => s.Value.Trim().Length > 0) && !m.Elements("inheritdoc").Any())
                .Select(m => (string)m.Attribute("name")!)
                .ToArray();
            Assert.True(empty.Length == 0, $"{a.GetName().Name}: members without a summary: {string.Join(", ", empty.Take(20))}");
        }
    }
}
