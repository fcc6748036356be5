// The table of Godot C-interface functions this extension uses, loaded once at entry.
//
// Every function is fetched by name through `get_proc_address`; a missing one fails
// initialisation with a message naming it (see api.cpp). Only functions available since
// Godot 4.3 are listed, so one build runs on 4.3 .. 4.6 engines.
#pragma once

#include <gdextension_interface.h>

namespace aigym::gd {

// X-macro: (member name, interface typedef suffix, proc name).
#define AIGYM_GD_INTERFACE(X)                                                              \
    X(print_error_with_message, PrintErrorWithMessage, "print_error_with_message")         \
    X(print_warning_with_message, PrintWarningWithMessage, "print_warning_with_message")   \
    X(get_godot_version, GetGodotVersion, "get_godot_version")                             \
    X(mem_alloc, MemAlloc, "mem_alloc")                                                    \
    X(mem_free, MemFree, "mem_free")                                                       \
    X(variant_new_copy, VariantNewCopy, "variant_new_copy")                                \
    X(variant_new_nil, VariantNewNil, "variant_new_nil")                                   \
    X(variant_destroy, VariantDestroy, "variant_destroy")                                  \
    X(variant_get_type, VariantGetType, "variant_get_type")                                \
    X(variant_can_convert_strict, VariantCanConvertStrict, "variant_can_convert_strict")   \
    X(variant_construct, VariantConstruct, "variant_construct")                            \
    X(variant_stringify, VariantStringify, "variant_stringify")                            \
    X(get_variant_from_type_constructor, GetVariantFromTypeConstructor,                    \
      "get_variant_from_type_constructor")                                                 \
    X(get_variant_to_type_constructor, GetVariantToTypeConstructor,                        \
      "get_variant_to_type_constructor")                                                   \
    X(variant_get_ptr_constructor, VariantGetPtrConstructor, "variant_get_ptr_constructor") \
    X(variant_get_ptr_destructor, VariantGetPtrDestructor, "variant_get_ptr_destructor")   \
    X(variant_get_ptr_internal_getter, GetVariantGetInternalPtrFunc,                       \
      "variant_get_ptr_internal_getter")                                                   \
    X(variant_get_ptr_builtin_method, VariantGetPtrBuiltinMethod,                          \
      "variant_get_ptr_builtin_method")                                                    \
    X(string_new_with_utf8_chars_and_len, StringNewWithUtf8CharsAndLen,                   \
      "string_new_with_utf8_chars_and_len")                                                \
    X(string_to_utf8_chars, StringToUtf8Chars, "string_to_utf8_chars")                     \
    X(string_name_new_with_utf8_chars_and_len, StringNameNewWithUtf8CharsAndLen,           \
      "string_name_new_with_utf8_chars_and_len")                                           \
    X(packed_byte_array_operator_index, PackedByteArrayOperatorIndex,                      \
      "packed_byte_array_operator_index")                                                  \
    X(packed_int32_array_operator_index, PackedInt32ArrayOperatorIndex,                    \
      "packed_int32_array_operator_index")                                                 \
    X(packed_float32_array_operator_index, PackedFloat32ArrayOperatorIndex,                \
      "packed_float32_array_operator_index")                                               \
    X(packed_string_array_operator_index, PackedStringArrayOperatorIndex,                  \
      "packed_string_array_operator_index")                                                \
    X(packed_byte_array_operator_index_const, PackedByteArrayOperatorIndexConst,           \
      "packed_byte_array_operator_index_const")                                            \
    X(packed_int32_array_operator_index_const, PackedInt32ArrayOperatorIndexConst,         \
      "packed_int32_array_operator_index_const")                                           \
    X(packed_float32_array_operator_index_const, PackedFloat32ArrayOperatorIndexConst,     \
      "packed_float32_array_operator_index_const")                                         \
    X(packed_string_array_operator_index_const, PackedStringArrayOperatorIndexConst,       \
      "packed_string_array_operator_index_const")                                          \
    X(array_operator_index, ArrayOperatorIndex, "array_operator_index")                    \
    X(array_operator_index_const, ArrayOperatorIndexConst, "array_operator_index_const")   \
    X(object_method_bind_ptrcall, ObjectMethodBindPtrcall, "object_method_bind_ptrcall")   \
    X(object_destroy, ObjectDestroy, "object_destroy")                                     \
    X(global_get_singleton, GlobalGetSingleton, "global_get_singleton")                    \
    X(object_get_instance_binding, ObjectGetInstanceBinding, "object_get_instance_binding") \
    X(object_set_instance_binding, ObjectSetInstanceBinding, "object_set_instance_binding") \
    X(object_set_instance, ObjectSetInstance, "object_set_instance")                       \
    X(object_cast_to, ObjectCastTo, "object_cast_to")                                      \
    X(ref_get_object, RefGetObject, "ref_get_object")                                      \
    X(ref_set_object, RefSetObject, "ref_set_object")                                      \
    X(classdb_construct_object, ClassdbConstructObject, "classdb_construct_object")        \
    X(classdb_get_method_bind, ClassdbGetMethodBind, "classdb_get_method_bind")            \
    X(classdb_get_class_tag, ClassdbGetClassTag, "classdb_get_class_tag")                  \
    X(classdb_register_extension_class3, ClassdbRegisterExtensionClass3,                   \
      "classdb_register_extension_class3")                                                 \
    X(classdb_register_extension_class_method, ClassdbRegisterExtensionClassMethod,        \
      "classdb_register_extension_class_method")                                           \
    X(classdb_register_extension_class_property, ClassdbRegisterExtensionClassProperty,    \
      "classdb_register_extension_class_property")                                         \
    X(classdb_unregister_extension_class, ClassdbUnregisterExtensionClass,                 \
      "classdb_unregister_extension_class")

struct Interface {
#define AIGYM_GD_MEMBER(member, type, proc) GDExtensionInterface##type member = nullptr;
    AIGYM_GD_INTERFACE(AIGYM_GD_MEMBER)
#undef AIGYM_GD_MEMBER
    GDExtensionClassLibraryPtr library = nullptr;
    GDExtensionGodotVersion version{};
    // Optional: present in editor builds of Godot >= 4.3 (null elsewhere): loads class reference XML.
    GDExtensionsInterfaceEditorHelpLoadXmlFromUtf8CharsAndLen editor_help_load_xml = nullptr;
};

// The one table; valid after a successful `load_interface`.
extern Interface api;

// Loads every function; on failure reports the first missing one and returns false.
bool load_interface(GDExtensionInterfaceGetProcAddress get_proc_address,
                    GDExtensionClassLibraryPtr library);

}  // namespace aigym::gd
