using System.Linq.Expressions;
using System.Reflection;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>What the IR promises about its nodes, and the conditional printed through its declaration's slots.</summary>
public class GraphStructureTests
{
    [Fact]
    public void Every_field_of_a_node_is_readonly_except_the_two_set_once_annotations()
    {
        var mutable = typeof(Node).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(f => !f.IsInitOnly).Select(f => f.Name).OrderBy(n => n).ToArray();
        Assert.Equal(["source", "witness"], mutable);
    }

    [Fact]
    public void A_node_source_is_set_once()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sin(x) * 2;
        Expression<Func<Tensor, Tensor>> other = x => Cos(x);
        var node = Reader.Read(f).Graph.Nodes.First(n => n.Source is not null);
        var first = node.Source!;
        node.Source ??= other.Body;            // already set: kept
        Assert.Same(first, node.Source);
        node.Source = first;                    // the same value again: allowed
        Assert.Throws<InvalidOperationException>(() => node.Source = other.Body);
        Assert.Same(first, node.Source);
    }

    [Fact]
    public void A_conditional_prints_as_if_else_in_the_general_and_the_specialised_form()
    {
        Expression<Func<Tensor, double, Tensor>> f = (x, c) => c > 0 ? Sin(x) : Cos(x) * 3;
        var source = Ad.Show(f).ReplaceLineEndings("\n");
        Assert.Contains("var t1 = c > 0.0;\n    Tensor t2;\n    if (t1)\n    {\n        var t3 = Np.Sin(x);\n        t2 = t3;\n    }\n    else\n    {\n", source);
        Assert.Contains("var t4 = Np.Cos(x);", source);
        var listing = Ad.Show(f, Tensor.FromArray(new[] { 1.0, 2.0 }, DType.Float64), 1.0);
        Assert.Contains("if (t1)", listing);
        Assert.Contains("else", listing);
    }
}
