namespace Functional.AD;

/// <summary>Blocked, packed matrix product.</summary>
internal static class Gemm
{
    public static bool Fits(Node n, Aval a, Dictionary<Node, Aval?> av, bool ta, bool tb) => false;

    public static Tensor Product<T>(Tensor a, Tensor b, bool ta, bool tb, int[] dims) where T : unmanaged => throw new NotImplementedException();
}
