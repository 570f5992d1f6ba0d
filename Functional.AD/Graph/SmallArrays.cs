namespace Functional.AD;

/// <summary>
/// Membership tests and projections over small arrays of the library's value types, written as plain loops. The
/// generic versions (<c>MemoryExtensions.Contains&lt;Kind&gt;</c>, LINQ's <c>Select</c> to a <c>Kind[]</c>,
/// <c>string.Join&lt;int&gt;</c>) are instantiated over our types, which a ReadyToRun image of the library cannot
/// hold, so every fresh process JIT-compiled each of them on the way to its first gradient; these are precompiled.
/// Declared in the library's namespace, they take precedence over the <c>System</c> extension methods of the same name.
/// </summary>
internal static class SmallArrays
{
    public static bool Contains(this Kind[] a, Kind k)
    {
        foreach (var x in a) if (x == k) return true;
        return false;
    }

    public static bool Contains(this int[] a, int k)
    {
        foreach (var x in a) if (x == k) return true;
        return false;
    }

    public static bool Contains(this DType[] a, DType k)
    {
        foreach (var x in a) if (x == k) return true;
        return false;
    }

    /// <summary>The kind of each node.</summary>
    public static Kind[] KindsOf(Node[] args)
    {
        var k = new Kind[args.Length];
        for (int i = 0; i < k.Length; i++) k[i] = args[i].Kind;
        return k;
    }

    /// <summary>
    /// <paramref name="start"/>, <paramref name="start"/> + 1, ... (<paramref name="count"/> values). A loop, not
    /// <c>Enumerable.Range(...).ToArray()</c>: LINQ over <c>int</c> is generic code that no ReadyToRun image holds, so
    /// each fresh process would JIT-compile it (see docs/benchmarks.md, "Grad + Jit + first call").
    /// </summary>
    public static int[] Range(int start, int count)
    {
        var r = new int[count];
        for (int i = 0; i < count; i++) r[i] = start + i;
        return r;
    }

    /// <summary>Whether two int arrays (shapes) hold the same values (both null counts as equal).</summary>
    public static bool Same(int[]? a, int[]? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>A hash of <paramref name="seed"/> and the values of <paramref name="a"/> (a shape), for hash tables.</summary>
    public static int Hash(int[] a, int seed)
    {
        uint h = (uint)seed * 0x9E3779B1u;
        foreach (var x in a) h = (h ^ (uint)x) * 0x01000193u + 0x7F4A7C15u;
        return (int)(h ^ (h >> 15));
    }

    /// <summary>0 .. n - 1 without the values in <paramref name="except"/>.</summary>
    public static int[] RangeExcept(int n, int[] except)
    {
        var r = new List<int>(n);
        for (int i = 0; i < n; i++) if (!except.Contains(i)) r.Add(i);
        return r.ToArray();
    }
}
