using Xunit;

namespace Functional.AD.Properties;

/// <summary>One plausible mistake: what a user does, the exception it must raise, and what its message must name.</summary>
/// <param name="Name">A short description (the test case's name).</param>
/// <param name="Act">The mistake.</param>
/// <param name="Expected">The exact exception type.</param>
/// <param name="Fragments">Text the message must contain: the subexpression, the shapes, what would be accepted.</param>
public sealed record BadInput(string Name, Action Act, Type Expected, string[] Fragments)
{
    public override string ToString() => Name;
}

/// <summary>Helpers for the bad-input catalogue (BadInputCatalogue*.cs, one class per area).</summary>
public static class BadInputs
{
    /// <summary>A case expecting exactly <typeparamref name="TEx"/> with every fragment in its message.</summary>
    public static BadInput Case<TEx>(string name, Action act, params string[] fragments) where TEx : Exception =>
        new(name, act, typeof(TEx), fragments);

    /// <summary>A case whose mistake returns a value (the value is forced, so lazy results do not hide the error).</summary>
    public static BadInput Case<TEx>(string name, Func<object?> act, params string[] fragments) where TEx : Exception =>
        new(name, () => Force(act()), typeof(TEx), fragments);

    static void Force(object? o)
    {
        if (o is System.Collections.IEnumerable e and not string) foreach (var _ in e) { }
    }

    /// <summary>
    /// Runs the mistake: it must throw exactly the expected type, with every fragment in the message, and nothing in
    /// its chain of inner exceptions may be a NullReference, IndexOutOfRange or InvalidOperation exception (a bug
    /// caught by accident is not validation).
    /// </summary>
    public static void Check(BadInput c)
    {
        Exception? caught = null;
        try { c.Act(); }
        catch (Exception e) { caught = e; }
        Assert.True(caught is not null, $"silently accepted: {c.Name}");
        Assert.True(c.Expected == caught!.GetType(), $"{c.Name}: expected {c.Expected.Name}, got {caught.GetType().Name}: {caught.Message}");
        foreach (var f in c.Fragments)
            Assert.True(caught.Message.Contains(f, StringComparison.Ordinal), $"{c.Name}: the message does not name \"{f}\":\n{caught.Message}");
        for (var inner = caught.InnerException; inner is not null; inner = inner.InnerException)
            Assert.False(inner is NullReferenceException or IndexOutOfRangeException or InvalidOperationException,
                $"{c.Name}: an internal {inner.GetType().Name} is wrapped, not validated: {inner.Message}");
    }

    /// <summary>The names of <paramref name="cases"/> as theory data (each runs as its own test).</summary>
    public static TheoryData<string> Names(IEnumerable<BadInput> cases)
    {
        var d = new TheoryData<string>();
        foreach (var c in cases) d.Add(c.Name);
        return d;
    }

    /// <summary>The case called <paramref name="name"/>; names must be unique.</summary>
    public static BadInput Find(IEnumerable<BadInput> cases, string name) => cases.Single(c => c.Name == name);

    public static Tensor V(params double[] xs) => new(xs);
    public static Tensor F(params float[] xs) => new(xs);
    public static Tensor M(int rows, int cols) => Np.Reshape(Np.Arange(rows * cols, DType.Float64), [rows, cols]);
}
