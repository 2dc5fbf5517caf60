/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Rust's standard library imports
 * ProcessPrng from it for random numbers. This forwards to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has. Built with MinGW by scripts/test-windows.sh and used
 * only inside the Wine prefix the Windows tests run in.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
