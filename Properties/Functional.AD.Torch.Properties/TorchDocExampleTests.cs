using System.Xml.Linq;
using Xunit;

namespace Functional.AD.Torch.Properties;

/// <summary>Every public type of Functional.AD.Torch (TorchJit, TorchBackend, TorchTensors, ...) shows an example in its XML docs.</summary>
public sealed class TorchDocExampleTests
{
    [Fact]
    public void Every_public_type_has_an_example()
    {
        var a = typeof(TorchJit).Assembly;
        var xml = Path.ChangeExtension(a.Location, ".xml");
        Assert.True(File.Exists(xml), $"{xml} is missing: GenerateDocumentationFile must stay on for Functional.AD.Torch");
        var members = XDocument.Load(xml).Descendants("member").ToDictionary(m => (string)m.Attribute("name")!, m => m);
        var types = a.GetExportedTypes().Where(t => !t.IsNested).ToArray();
        Assert.Contains(typeof(TorchJit), types);
        var missing = types
            .Where(t => !(members.TryGetValue("T:" + t.FullName, out var m) && (m.Descendants("example").Any() || m.Descendants("code").Any())))
            .Select(t => t.FullName)
            .ToArray();
        Assert.True(missing.Length == 0, $"public types without an <example> or <code> in their XML docs: {string.Join(", ", missing)}");
    }
}
