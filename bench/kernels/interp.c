/*
 * interp.c - benchmark kernel: a small bytecode interpreter (a stack VM with
 * a dense switch, which clang turns into a br_table) running a program
 * that sums the Collatz step counts of 1..n.  Measures unpredictable
 * indirect branches, the typical inner loop of interpreters and state
 * machines.  Checksum: the sum.
 */
#include "kernel.h"

enum op {
    OP_PUSH,
    OP_LOAD,
    OP_STORE,
    OP_ADD,
    OP_SUB,
    OP_AND,
    OP_SHR1,
    OP_DUP,
    OP_EQ,
    OP_LT,
    OP_JNZ,
    OP_JMP,
    OP_INC,
    OP_DROP,
    OP_XOR,
    OP_HALT,
};

/* r0 = x, r1 = total steps, r2 = n, r3 = current Collatz value.  The
 * comments give each line's offset (jump targets). */
static const int32_t program[] = {
    /* 0 */ OP_PUSH,
    1,
    OP_STORE,
    0,
    /* 4 outer: if (n < x) goto done */
    OP_LOAD,
    2,
    OP_LOAD,
    0,
    OP_LT,
    OP_JNZ,
    57,
    /* 11 c = x */
    OP_LOAD,
    0,
    OP_STORE,
    3,
    /* 15 inner: if (c == 1) goto next */
    OP_LOAD,
    3,
    OP_PUSH,
    1,
    OP_EQ,
    OP_JNZ,
    53,
    /* 22 if (c & 1) goto odd */
    OP_LOAD,
    3,
    OP_PUSH,
    1,
    OP_AND,
    OP_JNZ,
    38,
    /* 29 c >>= 1, total++ */
    OP_LOAD,
    3,
    OP_SHR1,
    OP_STORE,
    3,
    OP_INC,
    1,
    OP_JMP,
    15,
    /* 38 odd: c = 3c + 1, total++ */
    OP_LOAD,
    3,
    OP_DUP,
    OP_DUP,
    OP_ADD,
    OP_ADD,
    OP_PUSH,
    1,
    OP_ADD,
    OP_STORE,
    3,
    OP_INC,
    1,
    OP_JMP,
    15,
    /* 53 next: x++ */
    OP_INC,
    0,
    OP_JMP,
    4,
    /* 57 done: return total */
    OP_LOAD,
    1,
    OP_HALT,
};

static int64_t run_vm(const int32_t *code, int64_t *regs)
{
    int64_t stack[64];
    int sp = 0;
    uint32_t pc = 0;

    for (;;) {
        int32_t op = code[pc++];
        switch (op) {
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_LOAD: stack[sp++] = regs[code[pc++]]; break;
        case OP_STORE: regs[code[pc++]] = stack[--sp]; break;
        case OP_ADD:
            sp--;
            stack[sp - 1] += stack[sp];
            break;
        case OP_SUB:
            sp--;
            stack[sp - 1] -= stack[sp];
            break;
        case OP_AND:
            sp--;
            stack[sp - 1] &= stack[sp];
            break;
        case OP_XOR:
            sp--;
            stack[sp - 1] ^= stack[sp];
            break;
        case OP_SHR1: stack[sp - 1] >>= 1; break;
        case OP_DUP:
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_DROP: sp--; break;
        case OP_EQ:
            sp--;
            stack[sp - 1] = stack[sp - 1] == stack[sp];
            break;
        case OP_LT:
            sp--;
            stack[sp - 1] = stack[sp - 1] < stack[sp];
            break;
        case OP_JNZ: {
            int32_t target = code[pc++];
            if (stack[--sp] != 0)
                pc = (uint32_t)target;
            break;
        }
        case OP_JMP: pc = (uint32_t)code[pc]; break;
        case OP_INC: regs[code[pc++]]++; break;
        case OP_HALT: return stack[sp - 1];
        default: return -1;
        }
    }
}

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    int64_t regs[4] = {0, 0, (int64_t)n, 0};

    return (uint64_t)run_vm(program, regs);
}
