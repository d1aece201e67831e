# SPDX-License-Identifier: GPL-2.0
# CO-RE BPF programs: build/bpf/<tool>.bpf.o and their libbpf skeletons
# build/bpf/<tool>.skel.h.  vmlinux.h is generated from the build host's
# BTF; CO-RE relocates the same object for the host and both guests.

BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_OBJS	:= $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS	:= $(BPF_OBJS:.bpf.o=.skel.h)
BPF_CFLAGS	:= -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86 -I$(B)/bpf -Ibpf
VMLINUX_BTF	?= /sys/kernel/btf/vmlinux

BPF_TARGETS	+= $(BPF_SKELS)

$(B)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "bpf: $(VMLINUX_BTF) missing: the build host's kernel has no BTF (CONFIG_DEBUG_INFO_BTF)"; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(B)/bpf/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	llvm-strip -g $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# Keep the objects the skeletons embed.
.SECONDARY: $(BPF_OBJS)
