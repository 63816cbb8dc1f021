/* hv_demo_image.S: embeds the demo guest ELF so `hvpatch run` needs no file. */
    .section .rodata
    .balign 64
    .globl hv_demo_image
hv_demo_image:
    .incbin DEMO_ELF
    .globl hv_demo_image_end
hv_demo_image_end:
    .section .note.GNU-stack,"",@progbits
