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

    /// <summary>0 .. n - 1 without the values in <paramref name="except"/>.</summary>
    public static int[] RangeExcept(int n, int[] except)
    {
        var r = new List<int>(n);
        for (int i = 0; i < n; i++) if (!except.Contains(i)) r.Add(i);
        return r.ToArray();
    }
}
