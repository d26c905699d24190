package io.stcp.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** Checks that a builder refuses a null setting at once, naming it, not with a bare NullPointerException later. */
public final class NullSettings {
    private NullSettings() {}

    /**
     * Calls each public setter of {@code builder} that takes one object not marked {@link Nullable}
     * with null, and asserts that it throws a {@link NullPointerException} whose message is the
     * setter's name (the setting's).
     *
     * @return the setters checked, so that a caller can see its builder has some
     */
    public static List<String> assertEachRefusedByName(Object builder) throws IllegalAccessException {
        List<String> checked = new ArrayList<>();
        for (Method m : builder.getClass().getDeclaredMethods()) {
            if (!Modifier.isPublic(m.getModifiers()) || Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 1
                    || m.getParameterTypes()[0].isPrimitive()
                    || m.getAnnotatedParameterTypes()[0].isAnnotationPresent(Nullable.class)
                    || m.getReturnType() != builder.getClass()) {
                continue;
            }
            Throwable thrown = null;
            try {
                m.invoke(builder, (Object) null);
            } catch (InvocationTargetException e) {
                thrown = e.getCause();
            }
            assertThat(thrown).as("%s(null)", m.getName()).isInstanceOf(NullPointerException.class);
            assertThat(thrown.getMessage()).as("%s(null)'s message", m.getName()).isEqualTo(m.getName());
            checked.add(m.getName());
        }
        return checked;
    }
}
