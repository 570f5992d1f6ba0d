using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The API site's promise: every public member has a summary (CS1591 is an error in the packed projects, so the build
/// enforces it) and every public static class, the entry points (Ad, Np, Lax, Tree, Optim, Rng, GradCheck, Gens, ...),
/// and every record a user builds (AdamState, GradCheckResult, PrimitiveSpec, ...) shows an example in its XML docs.
/// </summary>
public sealed class DocExampleTests
{
    static XDocument DocsOf(Assembly a)
    {
        var xml = Path.ChangeExtension(a.Location, ".xml");
        Assert.True(File.Exists(xml), $"{xml} is missing: GenerateDocumentationFile must stay on for {a.GetName().Name}");
        return XDocument.Load(xml);
    }

    static bool IsRecord(Type t) => t.GetMethod("<Clone>$") is not null || t.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is not null;

    [Theory]
    [InlineData("Functional.AD")]
    [InlineData("Functional.AD.Testing")]
    public void Every_public_entry_point_type_has_an_example(string assembly)
    {
        var a = Assembly.Load(assembly);
        var docs = DocsOf(a);
        var members = docs.Descendants("member").ToDictionary(m => (string)m.Attribute("name")!, m => m);
        bool HasExample(string id) => members.TryGetValue(id, out var m) && (m.Descendants("example").Any() || m.Descendants("code").Any());
        var entryPoints = a.GetExportedTypes().Where(t => (t.IsAbstract && t.IsSealed) || IsRecord(t)).ToArray();
        Assert.NotEmpty(entryPoints);
        var missing = entryPoints
            .Where(t => !HasExample("T:" + t.FullName!.Replace('+', '.')))
            .Select(t => t.FullName)
            .ToArray();
        Assert.True(missing.Length == 0, $"public types without an <example> or <code> in their XML docs: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_public_member_has_a_summary()
    {
        foreach (var a in new[] { typeof(Tree).Assembly, typeof(Functional.AD.Testing.Gens).Assembly })
        {
            var docs = DocsOf(a);
            var empty = docs.Descendants("member")
                .Where(m => !m.Elements("summary").Any(s => s.Value.Trim().Length > 0) && !m.Elements("inheritdoc").Any())
                .Select(m => (string)m.Attribute("name")!)
                .ToArray();
            Assert.True(empty.Length == 0, $"{a.GetName().Name}: members without a summary: {string.Join(", ", empty.Take(20))}");
        }
    }
}
